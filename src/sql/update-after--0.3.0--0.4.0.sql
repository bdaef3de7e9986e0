-- update-after--0.3.0--0.4.0.sql: what an update from 0.3.0 removes after
-- the objects of a fresh install have replaced the ones that used it (the
-- end of the assembled quo_fdw--0.3.0--0.4.0.sql; see the Makefile)

-- the view quo_fdw.mirrors counted by reading a mirror's tables with this
-- (they are their owner's: a view put there would run its code as the
-- reader); it counts from the catalog now
DROP FUNCTION quo_fdw.mirror_rows(name, name);
