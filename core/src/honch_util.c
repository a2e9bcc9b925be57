/* Encoding primitives (W4) and small string helpers. */
#include "honch_internal.h"

static const char *const status_texts[HONCH_STATUS_COUNT] = {
    "ok",           "invalid argument", "out of memory",   "io error",
    "transport error", "rate limited",  "server error",    "rejected",
    "not initialized", "already initialized", "queue full", "timeout",
    "internal error", "busy",           "not supported",   "offline",
};

const char *honch_status_text(int status) {
    if (status < 0 || status >= HONCH_STATUS_COUNT) return "unknown";
    return status_texts[status];
}

const char *honch_sdk_version(void) { return HONCH_SDK_VERSION; }

unsigned hc_uvarint_len(uint64_t v) {
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *hc_put_uvarint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

const uint8_t *hc_get_uvarint(const uint8_t *p, uint64_t *v) {
    uint64_t r = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        b = *p++;
        r |= (uint64_t)(b & 0x7F) << shift;
        shift += 7;
    } while (b & 0x80);
    *v = r;
    return p;
}

uint64_t hc_zigzag(int64_t v) {
    /* (n << 1) ^ (n >> 63) without relying on signed shifts. */
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

uint16_t hc_crc16(uint16_t crc, const uint8_t *p, size_t n) {
    while (n--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (int i = 0; i < 8; i++) crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

/* W4.4: well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool hc_utf8_valid(const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str, *e = s + n;
    while (s < e) {
        uint8_t c = *s;
        if (c < 0x80) {
            /* ASCII fast path: eight bytes at a time while none has the top bit */
            uint64_t w;
            while (e - s >= 8 && (memcpy(&w, s, 8), !(w & 0x8080808080808080ull))) s += 8;
            if (s < e && *s < 0x80) s++;
            continue;
        }
        unsigned need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if ((size_t)(e - s) <= need) return false;
        if (s[1] < lo || s[1] > hi) return false;
        for (unsigned i = 2; i <= need; i++)
            if ((s[i] & 0xC0) != 0x80) return false;
        s += need + 1;
    }
    return true;
}

/* Contract 1: empty, or only space, tab, CR and LF. */
bool hc_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

size_t hc_utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    /* s[max] is the first byte left out: back off while it continues a character. */
    while (max > 0 && ((uint8_t)s[max] & 0xC0) == 0x80) max--;
    return max;
}

void hc_hex(char *out, const uint8_t *in, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

bool hc_str_eq(const char *a, size_t an, const char *b, size_t bn) {
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

uint64_t hc_add_sat(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }
