# quo_fdw: PostgreSQL foreign data wrapper for the Quo (formerly OpenPhone) API.
#
#   make demo    install what is missing, build, run example queries on a mock API
#   make test    the same environment, then the whole test suite
#   make bench   quo_fdw against a PL/Python pager and the raw transfer
#   make test-versions  the suite on PostgreSQL 15, 17 and 18 in Debian chroots
#   make         just build (needs PostgreSQL server headers, libcurl, json-c)
#   make install; make installcheck   the pg_regress suite against a running
#                server (PGHOST, PGPORT, PGUSER: a superuser), with the bundled
#                mock API started and stopped by test/installcheck.sh

MODULE_big = quo_fdw
OBJS = src/quo_fdw.o src/scan.o src/fanout.o src/fetch.o src/option.o src/endpoints.o src/pushdown.o \
       src/request.o src/http.o src/retry.o src/rate.o src/errors.o src/json_row.o \
       src/join.o src/token_set.o src/series.o src/fetch_sql.o src/mirror.o src/stats.o

EXTENSION = quo_fdw
EXTVERSION = 0.4.0
# the scripts of earlier releases, as they shipped
DATA = quo_fdw--0.1.0.sql quo_fdw--0.2.0.sql quo_fdw--0.1.0--0.2.0.sql quo_fdw--0.2.0--0.3.0.sql
# this release's install and update scripts, assembled from src/sql: each
# object is written once there, and an update script replaces the functions
# with the same files an install runs
DATA_built = quo_fdw--$(EXTVERSION).sql quo_fdw--0.3.0--$(EXTVERSION).sql
# the functions and views, written once: an update replaces them with these
SQL_SHARED = src/sql/fetch.sql src/sql/mirror_tables.sql src/sql/mirror_view.sql src/sql/mirror_create.sql \
             src/sql/mirror_read.sql src/sql/mirror_lists.sql src/sql/mirror_visits.sql src/sql/mirror_enrich.sql \
             src/sql/mirror_refresh.sql src/sql/stats.sql
sql_banner = printf '/* %s: assembled by the build from src/sql (see the Makefile); edit those files, not this one */\n\n\\echo Use "%s" to load this file. \\quit\n\n'

# the pg_regress suite, in the order of test/schedule
REGRESS = $(shell sed -n 's/^test: *//p' $(dir $(firstword $(MAKEFILE_LIST)))test/schedule)
REGRESS_OPTS = --encoding=UTF8

PG_CONFIG ?= pg_config

CURL_CONFIG ?= curl-config
CURL_CFLAGS := $(shell $(CURL_CONFIG) --cflags 2>/dev/null)
CURL_LIBS := $(shell $(CURL_CONFIG) --libs 2>/dev/null || echo -lcurl)
JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

PG_CPPFLAGS = -I$(srcdir)/src $(CURL_CFLAGS) $(JSONC_CFLAGS)
SHLIB_LINK = $(CURL_LIBS) $(JSONC_LIBS)
# QUO_STRICT=1 (the test build): -Wall -Wextra -Werror on our code, with
# PostgreSQL's headers read as system headers so their unused parameters
# do not count against us.
ifdef QUO_STRICT
PG_CPPFLAGS += -isystem $(shell $(PG_CONFIG) --includedir-server) \
               -isystem $(shell $(PG_CONFIG) --includedir)/internal
PG_CFLAGS += -Wall -Wextra -Werror
endif

# build/ (test clusters, results) is not removed by clean: test/run.sh manages it

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
# installcheck: pg_regress runs inside test/installcheck.sh, which starts the
# mock Quo API first and stops it after
quo_pg_regress := $(top_builddir)/src/test/regress/pg_regress
pg_regress_installcheck := $(subst $(quo_pg_regress),bash $(srcdir)/test/installcheck.sh $(quo_pg_regress),$(pg_regress_installcheck))
ifneq ($(filter installcheck,$(MAKECMDGOALS)),)
ifeq ($(findstring installcheck.sh,$(pg_regress_installcheck)),)
$(error this PGXS runs pg_regress in a way quo_fdw's Makefile does not know: installcheck would run without the mock)
endif
endif
else
all:
	@echo "PostgreSQL server headers not found: run 'make demo' or 'make test', which install them" >&2; exit 1
endif

quo_fdw--$(EXTVERSION).sql: src/sql/fdw.sql src/sql/mirror_catalog.sql src/sql/mirror_policy.sql \
                            src/sql/mirror_result.sql $(SQL_SHARED)
	{ $(sql_banner) $@ "CREATE EXTENSION quo_fdw"; cat $^; } > $@

quo_fdw--0.3.0--$(EXTVERSION).sql: src/sql/update--0.3.0--$(EXTVERSION).sql src/sql/mirror_policy.sql \
                                   src/sql/mirror_result.sql $(SQL_SHARED) \
                                   src/sql/update-after--0.3.0--$(EXTVERSION).sql
	{ $(sql_banner) $@ "ALTER EXTENSION quo_fdw UPDATE TO '$(EXTVERSION)'"; cat $^; } > $@

.PHONY: demo test bench test-versions
demo:
	bash test/run.sh demo

test:
	bash test/run.sh test

bench:
	bash test/run.sh bench

test-versions:
	bash test/versions.sh
