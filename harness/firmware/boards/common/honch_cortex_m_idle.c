// Sleeping on the Cortex-M boards (MPS2 AN385, nRF51): WFI with PRIMASK set.
//
// The port's vector table has no entries for external interrupts, so none may
// ever be taken: PRIMASK stays set, and WFI still wakes when an enabled interrupt
// becomes pending (ARMv7-M and ARMv6-M ARM, "Wait For Interrupt"). The pending
// state is cleared by hand afterwards. The console's receive interrupt wakes a
// reader, SysTick (one shot of up to 2^24 core cycles) a sleeper. The board
// provides the console's interrupt (honch_cortex_m.h).

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#include "honch_cortex_m.h"

#define REG(address) (*(volatile uint32_t *)(address))
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SYST_CSR_ENABLE_TICKINT_CPUCLK (7u)
#define SYST_MAX_RELOAD (0xFFFFFFu)
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ICER0 REG(0xE000E180u)
#define NVIC_ICPR0 REG(0xE000E280u)
#define SCB_ICSR REG(0xE000ED04u)
#define SCB_ICSR_PENDSTCLR (1u << 25)

static void mask_interrupts(void) {
    __asm volatile ("cpsid i" : : : "memory");
}

static void wait_for_interrupt(void) {
    __asm volatile ("dsb\n wfi" : : : "memory");
}

void honch_board_wait_for_input(void) {
    static bool armed;
    mask_interrupts();
    if (!armed) {
        honch_board_console_irq_enable();
        armed = true;
    }
    honch_board_console_irq_clear();
    NVIC_ICPR0 = 1u << HONCH_BOARD_CONSOLE_IRQ;
    NVIC_ISER0 = 1u << HONCH_BOARD_CONSOLE_IRQ;
    if (!honch_board_console_has_input()) { // arrived before the pending state was cleared
        wait_for_interrupt();
    }
    NVIC_ICER0 = 1u << HONCH_BOARD_CONSOLE_IRQ; // a sleeper must not wake for input
}

void honch_board_sleep_until(uint64_t until_us) {
    uint64_t now = honch_board_us();
    if (now >= until_us) {
        return;
    }
    uint64_t cycles = (until_us - now) * (HONCH_BOARD_CPU_HZ / 1000000u);
    mask_interrupts();
    SYST_CSR = 0u;
    SYST_RVR = cycles > SYST_MAX_RELOAD ? SYST_MAX_RELOAD : (uint32_t)cycles;
    SYST_CVR = 0u;
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
    SYST_CSR = SYST_CSR_ENABLE_TICKINT_CPUCLK;
    wait_for_interrupt();
    SYST_CSR = 0u;
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
}
