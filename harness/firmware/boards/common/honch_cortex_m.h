// What a Cortex-M board's HAL tells honch_cortex_m_idle.c about its console UART.
#ifndef HONCH_CORTEX_M_H
#define HONCH_CORTEX_M_H

#include <stdbool.h>

// HONCH_BOARD_CONSOLE_IRQ (the UART's receive interrupt, 0..31) and
// HONCH_BOARD_CPU_HZ (SysTick's core clock) come from the board's makefile.

// Let the UART raise its receive interrupt line.
void honch_board_console_irq_enable(void);
// Lower the line for the characters already seen (where the UART latches it).
void honch_board_console_irq_clear(void);
// A character is waiting in the UART.
bool honch_board_console_has_input(void);

#endif
