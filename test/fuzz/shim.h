/* shim.h: what the fuzz targets share with shim.c */
#ifndef QUO_FUZZ_SHIM_H
#define QUO_FUZZ_SHIM_H
#include <setjmp.h>
/* port.h maps the printf family to PostgreSQL's own; here libc's is used */
#undef fprintf
#undef vsnprintf
#undef snprintf
#undef vfprintf
#undef sprintf
#undef printf
extern sigjmp_buf *fuzz_error_jmp;
extern void fuzz_arena_reset(void);
extern bool fuzz_json_valid(const char *s);
#endif
