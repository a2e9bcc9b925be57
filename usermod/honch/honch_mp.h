// Shared between the _honch_core binding (modhonch_core.c) and the MicroPython
// platform adapters (honch_mp_port.c).
#ifndef HONCH_MP_H
#define HONCH_MP_H

#include "py/obj.h"

#include "honch/honch.h"

// The Python objects whose memory the core points into; they must stay alive
// (and unchanged) while the client uses them.
enum {
    HONCH_MP_REF_API_KEY,
    HONCH_MP_REF_DEVICE_ID,
    HONCH_MP_REF_DEVICE_MODEL,
    HONCH_MP_REF_FIRMWARE_VERSION,
    HONCH_MP_REF_ENDPOINT_URL,
    HONCH_MP_REF_ENVIRONMENT,
    HONCH_MP_REF_RESET_REASON,
    HONCH_MP_REF_EVENT_BUFFER,
    // The last Retry-After value handed to the core (honch_response_t.retry_after).
    HONCH_MP_REF_RETRY_AFTER,
    HONCH_MP_REF_COUNT
};

typedef struct _honch_mp_client_t {
    mp_obj_base_t base;
    mp_obj_t refs[HONCH_MP_REF_COUNT];
    // A BaseException that is not an Exception (KeyboardInterrupt, SystemExit)
    // raised inside the transport: the core must finish its call first, then
    // the binding re-raises it. MP_OBJ_NULL when none.
    mp_obj_t pending_exception;
    // time.time, MP_OBJ_NULL before the first lookup, mp_const_none when the
    // firmware has none (only used without MICROPY_PY_TIME_TIME_TIME_NS).
    mp_obj_t time_fn;
    // Where the core's event queue lives, to notice a bytearray resized behind its back.
    uint8_t *event_buffer;
    size_t event_buffer_len;
    honch_platform_t platform;
    honch_client_t core;
} honch_mp_client_t;

// Fills self->platform with the adapters of this port (ctx = self).
void honch_mp_platform_init(honch_mp_client_t *self);

// $device_boot's reset_reason from machine.reset_cause() (contract 11.2), a constant.
const char *honch_mp_reset_reason(void);

// Re-raises self->pending_exception, if any, once the core call has returned.
void honch_mp_raise_pending(honch_mp_client_t *self);

#endif // HONCH_MP_H
