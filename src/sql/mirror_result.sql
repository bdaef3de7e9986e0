-- mirror_result.sql: what a refresh or step returns
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

CREATE TYPE quo_fdw.refresh_result AS (
  requests bigint,                 -- Quo API requests made (every attempt)
  conversations_visited bigint,    -- conversations whose calls and messages were read
  conversations_skipped bigint,    -- listed, but nothing to read (unchanged, or no activity in the period)
  calls_inserted bigint, calls_updated bigint,
  messages_inserted bigint, messages_updated bigint,
  conversations_inserted bigint, conversations_updated bigint,
  users_inserted bigint, users_updated bigint,
  phone_numbers_inserted bigint, phone_numbers_updated bigint,
  seconds numeric,
  complete boolean,                -- the pass is complete: the mirror is up to date
  conversations_pending bigint,    -- visits still to do in this pass
  calls_removed bigint,            -- pending rows whose id is now the documented 404
  messages_removed bigint,
  contacts_inserted bigint, contacts_updated bigint,
  contacts_removed bigint,         -- two listings in a row lacked them
  contact_custom_fields_inserted bigint, contact_custom_fields_updated bigint,
  contact_custom_fields_removed bigint,
  tasks_inserted bigint, tasks_updated bigint, tasks_removed bigint,
  call_summaries_inserted bigint, call_summaries_updated bigint,
  call_transcripts_inserted bigint, call_transcripts_updated bigint,
  call_recordings_inserted bigint, call_recordings_updated bigint,
  call_voicemails_inserted bigint, call_voicemails_updated bigint,
  per_call_awaited bigint          -- per-call rows still awaited (asks left, calls within enrich_within)
);
COMMENT ON TYPE quo_fdw.refresh_result IS 'what quo_fdw.refresh_mirror returns';

