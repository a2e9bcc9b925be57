/* The most recent failure of a client (honch_last_error, contract clause C51). */
#include "honch_internal.h"

/* The reason of a status that has no more specific one: its snake_case name. */
static const char *const status_reasons[HONCH_STATUS_COUNT] = {
    HONCH_REASON_NONE, "invalid_argument", "out_of_memory", "io_error",
    HONCH_REASON_CONNECTION_FAILED, HONCH_REASON_RATE_LIMITED, HONCH_REASON_SERVER_ERROR, HONCH_REASON_REJECTED,
    "not_initialized", "already_initialized", "queue_full", HONCH_REASON_TIMEOUT,
    "internal_error", "busy", "not_supported", HONCH_REASON_OFFLINE,
};

/* strlen without libc (the core calls only mem* functions); 0 for NULL. */
size_t hc_cstr_len(const char *s) {
    size_t n = 0;
    while (s && s[n]) n++;
    return n;
}

static bool client_ok(const hc_client_t *c) { return c && c->magic == HC_MAGIC; }

void hc_note(hc_client_t *c, int status, const char *reason, const char *component, int http, int os_error,
             const char *message, size_t message_len) {
    bool known = status >= 0 && status < HONCH_STATUS_COUNT;
    if (!message) {
        message = honch_status_text(status);
        message_len = hc_cstr_len(message);
    }
    message_len = hc_utf8_cut(message, message_len, HONCH_LAST_ERROR_MESSAGE_BYTES);
    c->le_status = (int16_t)status;
    c->le_reason = reason ? reason : known ? status_reasons[status] : "unknown";
    c->le_component = component;
    c->le_http = (uint16_t)(http > 0 && http < 1000 ? http : 0);
    c->le_os_error = os_error;
    memcpy(c->le_message, message, message_len);
    c->le_message[message_len] = '\0';
}

void honch_note_error(honch_client_t *client, int status, const char *message, size_t len) {
    hc_client_t *c = HC(client);
    if (!client_ok(c) || status == HONCH_STATUS_OK) return;
    bool keep = c->le_fresh && c->le_status == status && !message;
    c->le_fresh = 0;
    if (!keep) hc_note(c, status, NULL, HONCH_COMPONENT_API, 0, 0, message, len);
}

int honch_last_error(const honch_client_t *client, honch_last_error_t *out) {
    const hc_client_t *c = HCC(client);
    if (!out) return HONCH_STATUS_INVALID_ARGUMENT;
    if (!client_ok(c)) return HONCH_STATUS_NOT_INITIALIZED;
    out->status = c->le_status;
    out->reason = c->le_reason ? c->le_reason : HONCH_REASON_NONE;
    out->component = c->le_status ? c->le_component : NULL;
    out->http_status = c->le_http;
    out->os_error = c->le_os_error;
    memcpy(out->message, c->le_message, sizeof out->message);
    return HONCH_STATUS_OK;
}
