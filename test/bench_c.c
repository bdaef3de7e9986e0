/*
 * make bench: the C reference for the per-row CPU figure.  It fetches the
 * same 1,000 pages (100,000 messages) from the mock that quo_fdw's scan
 * fetches, with libcurl (one connection, gzip, as quo_fdw asks), parses
 * each page with json-c and reads every message's id, text and createdAt
 * as strings: the least any C client of the API does.  It prints one line,
 * "rows cpu_seconds wall_seconds", CPU being this process's own user and
 * system time (what the backend's /proc/self/schedstat counts for quo_fdw).
 *
 *   bench_c BASE_URL API_KEY
 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct
{
	char	   *data;
	size_t		len,
				cap;
} Buf;

static size_t
on_data(char *p, size_t size, size_t n, void *userp)
{
	Buf		   *b = userp;

	n *= size;
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			return 0;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	CURL	   *h;
	struct curl_slist *hdr;
	Buf			body = {0};
	char		url[4096],
				auth[1024];
	char	   *token = NULL;
	long		rows = 0;
	size_t		touched = 0;
	double		w0 = seconds(CLOCK_MONOTONIC);

	if (argc != 3)
	{
		fprintf(stderr, "usage: %s BASE_URL API_KEY\n", argv[0]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	snprintf(auth, sizeof auth, "Authorization: %s", argv[2]);
	hdr = curl_slist_append(NULL, auth);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	for (;;)
	{
		struct json_object *page,
				   *data,
				   *next;
		long		code = 0;
		size_t		n;

		snprintf(url, sizeof url,
				 "%s/v1/messages?phoneNumberId=PNsales0001&participants=%%2B15550177777&maxResults=100%s%s",
				 argv[1], token ? "&pageToken=" : "", token ? token : "");
		curl_easy_setopt(h, CURLOPT_URL, url);
		body.len = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
		{
			fprintf(stderr, "bench_c: GET %s failed (HTTP %ld)\n", url, code);
			return 1;
		}
		page = json_tokener_parse(body.data);
		if (page == NULL || !json_object_object_get_ex(page, "data", &data))
		{
			fprintf(stderr, "bench_c: the page is not a list\n");
			return 1;
		}
		n = json_object_array_length(data);
		for (size_t i = 0; i < n; i++)
		{
			struct json_object *m = json_object_array_get_idx(data, i),
					   *v;
			static const char *const fields[] = {"id", "text", "createdAt"};

			for (int f = 0; f < 3; f++)
				if (json_object_object_get_ex(m, fields[f], &v))
					touched += strlen(json_object_get_string(v));
			rows++;
		}
		curl_free(token);
		token = NULL;
		if (json_object_object_get_ex(page, "nextPageToken", &next) &&
			json_object_is_type(next, json_type_string))
			token = curl_easy_escape(h, json_object_get_string(next), 0);
		json_object_put(page);
		if (token == NULL)
			break;
	}
	printf("%ld %.4f %.4f\n", rows, seconds(CLOCK_PROCESS_CPUTIME_ID),
		   seconds(CLOCK_MONOTONIC) - w0);
	fprintf(stderr, "bench_c: %zu bytes of field text read\n", touched);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	free(body.data);
	return 0;
}
