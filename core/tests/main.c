/* Runs every test listed in tests.def (optionally only those whose name contains argv[1]). */
#include <stdarg.h>
#include <stdlib.h>

#include "check.h"
#include "fake.h"
#include "honch/honch.h"

int check_failures;
const char *check_current;
static int test_failed;

void check_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "FAIL %s (%s:%d): ", check_current, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    check_failures++;
    test_failed = 1;
}

void check_hex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = d[p[i] >> 4];
        *out++ = d[p[i] & 15];
    }
    *out = 0;
}

#define T(name) void name(void);
#include "tests.def"
#undef T

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
#define T(name) {#name, name},
#include "tests.def"
#undef T
};

int main(int argc, char **argv) {
    int run = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        check_current = tests[i].name;
        test_failed = 0;
        tests[i].fn();
        fake_reset(); /* also dumps the test's requests when HONCH_TEST_DUMP is set */
        run++;
        failed += test_failed;
        printf("%s %s\n", test_failed ? "FAIL" : "ok  ", tests[i].name);
    }
    printf("%d tests, %d failed (HONCH_MAX_FRAME=%d)\n", run, failed, HONCH_MAX_FRAME);
    return failed ? 1 : 0;
}
