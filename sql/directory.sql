--
-- phone_numbers (not paged; userId), contacts (pages of 50; externalIds
-- and sources as repeated keys; names under defaultFields) and
-- contact_custom_fields (not paged, no filters)
--
SET timezone = 'UTC';
SET search_path = quo, public;
SELECT mock_reset();
\d phone_numbers
\d contacts
\d contact_custom_fields

-- phone_numbers: every number in one request, every column
SELECT id, group_id, name, number, formatted_number, forward, port_request_id,
       porting_status, symbol, user_ids, jsonb_array_length(users) AS nusers,
       restrictions IS NOT NULL AS has_restrictions, created_at, updated_at
  FROM phone_numbers ORDER BY id;
SELECT * FROM mock_log();
SELECT mock_reset();
-- 'US...' = ANY (user_ids) is userId (rechecked: the document does not
-- say how it matches); a value outside ^US costs no request
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM phone_numbers WHERE 'USbob000002' = ANY (user_ids);
SELECT id, user_ids FROM phone_numbers WHERE 'USbob000002' = ANY (user_ids) ORDER BY id;
SELECT id FROM phone_numbers WHERE 'bob' = ANY (user_ids);
-- two users: the first is sent, both are checked here
SELECT id FROM phone_numbers WHERE 'USbob000002' = ANY (user_ids) AND 'UScarol0003' = ANY (user_ids);
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();
-- by id; an unknown id is no row
SELECT id, name FROM phone_numbers WHERE id IN ('PNsupport02', 'PNnope', 'sales') ORDER BY id;
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();
-- a LIMIT is not sent (the list is not paged)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM phone_numbers LIMIT 1;
-- missed calls per line, with names
SELECT p.name AS line, count(*) FILTER (WHERE c.status IN ('missed', 'no-answer')) AS missed, count(*) AS calls
  FROM calls c JOIN phone_numbers p ON p.id = c.phone_number_id
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants)
 GROUP BY p.name;
SELECT mock_reset();

-- contacts: 120 in pages of 50 (3 requests)
SELECT count(*), count(DISTINCT id), count(external_id) AS with_external_id,
       count(*) FILTER (WHERE source = 'csv') AS csv, count(*) FILTER (WHERE source IS NULL) AS no_source,
       count(first_name) AS first_names, count(company) AS companies,
       sum(cardinality(phone_numbers)) AS numbers, sum(cardinality(emails)) AS emails,
       count(*) FILTER (WHERE custom_fields <> '[]') AS with_custom_fields
  FROM contacts;
SELECT * FROM mock_log();
SELECT mock_reset();
-- every column of a few, by id: nested names, values of numbers and emails
-- (a null value is a NULL element), custom fields
SELECT id, external_id, source, source_url, first_name, last_name, company, role,
       phone_numbers, emails, created_by_user_id, created_at, updated_at
  FROM contacts
 WHERE id IN ('664d0db69fcac7cf2e6e0001', '664d0db69fcac7cf2e6e0024', '664d0db69fcac7cf2e6e0058', '664d0db69fcac7cf2e6e9999')
 ORDER BY id;
SELECT jsonb_array_length(custom_fields) > 0 AS has_fields FROM contacts WHERE id = '664d0db69fcac7cf2e6e0001';
SELECT count(*) AS requests FROM mock_log();
SELECT mock_reset();
-- external_id and source: repeated keys (rechecked); values longer than
-- 75 characters or empty match nothing and are not sent
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM contacts WHERE external_id IN ('ext-0001', 'ext-0002', 'ext-0005') AND source = 'public-api';
SELECT id, external_id, source FROM contacts
 WHERE external_id IN ('ext-0001', 'ext-0002', 'ext-0003', 'ext-0005', '') ORDER BY id;
SELECT count(*) FROM contacts WHERE source = ANY (ARRAY['csv', 'google']);
SELECT count(*) FROM contacts WHERE external_id = repeat('x', 76);
SELECT * FROM mock_log() ORDER BY 1;
SELECT mock_reset();
-- LIMIT within 1..50 is the page size
SELECT count(*) FROM (SELECT id FROM contacts LIMIT 7) s;
SELECT * FROM mock_log();
SELECT mock_reset();
-- calls per customer company in one conversation: contacts by number
SELECT coalesce(ct.company, '(none)') AS company, count(*) AS calls
  FROM calls c JOIN contacts ct ON c.participants[1] = ANY (ct.phone_numbers)
 WHERE c.phone_number_id = 'PNsales0001' AND '+15550100002' = ANY (c.participants)
 GROUP BY 1 ORDER BY 1;
SELECT mock_reset();

-- contact_custom_fields: one request
SELECT key, name, type FROM contact_custom_fields ORDER BY key;
SELECT * FROM mock_log();
SELECT mock_reset();

-- a value under defaultFields of the wrong type names the column
SELECT mock_fault('{"match": "/v1/contacts", "action": "wrong_type", "field": "defaultFields", "value": "Ana"}');
SELECT first_name FROM contacts;
SELECT mock_reset();
SELECT mock_fault('{"match": "/v1/phone-numbers", "action": "status", "status": 403}');
SELECT count(*) FROM phone_numbers;
SELECT mock_reset();
