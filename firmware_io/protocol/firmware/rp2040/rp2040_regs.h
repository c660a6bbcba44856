/*
 * rp2040_regs.h - the RP2040 registers this firmware uses, with addresses and bit fields
 * taken from the RP2040 datasheet (chapter 2: clocks, resets, XOSC, PLL, IO, pads;
 * chapter 4: UART, ADC, DMA, timer). No Pico SDK.
 */
#ifndef RP2040_REGS_H
#define RP2040_REGS_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
/* Every APB/AHB register has atomic aliases: +0x2000 sets bits, +0x3000 clears them. */
#define REG_SET(addr) REG((addr) + 0x2000u)
#define REG_CLR(addr) REG((addr) + 0x3000u)

/* Resets (2.14) */
#define RESETS_BASE 0x4000c000u
#define RESETS_RESET (RESETS_BASE + 0x0u)
#define RESETS_RESET_DONE (RESETS_BASE + 0x8u)
#define RESET_ADC (1u << 0)
#define RESET_DMA (1u << 2)
#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_PLL_SYS (1u << 12)
#define RESET_PLL_USB (1u << 13)
#define RESET_TIMER (1u << 21)
#define RESET_UART0 (1u << 22)

/* Crystal oscillator (2.16) */
#define XOSC_BASE 0x40024000u
#define XOSC_CTRL (XOSC_BASE + 0x00u)
#define XOSC_STATUS (XOSC_BASE + 0x04u)
#define XOSC_STARTUP (XOSC_BASE + 0x0cu)
#define XOSC_CTRL_FREQ_1_15MHZ 0xaa0u
#define XOSC_CTRL_ENABLE (0xfabu << 12)
#define XOSC_STATUS_STABLE (1u << 31)

/* PLLs (2.18) */
#define PLL_SYS_BASE 0x40028000u
#define PLL_USB_BASE 0x4002c000u
#define PLL_CS 0x0u
#define PLL_PWR 0x4u
#define PLL_FBDIV_INT 0x8u
#define PLL_PRIM 0xcu
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)

/* Clocks (2.15) */
#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL (CLOCKS_BASE + 0x30u)
#define CLK_REF_SELECTED (CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL (CLOCKS_BASE + 0x3cu)
#define CLK_SYS_DIV (CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED (CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL (CLOCKS_BASE + 0x48u)
#define CLK_ADC_CTRL (CLOCKS_BASE + 0x60u)
#define CLK_ADC_DIV (CLOCKS_BASE + 0x64u)
#define CLK_CTRL_ENABLE (1u << 11)
#define CLK_REF_SRC_XOSC 2u
#define CLK_SYS_SRC_REF 0u
#define CLK_SYS_SRC_AUX 1u
#define CLK_AUXSRC_SHIFT 5
#define CLK_SYS_AUXSRC_PLL_SYS 0u
#define CLK_PERI_AUXSRC_CLK_SYS 0u
#define CLK_ADC_AUXSRC_PLL_USB 0u

/* Watchdog tick: the 1 us timebase of the TIMER (4.7) */
#define WATCHDOG_TICK 0x4005802cu
#define WATCHDOG_TICK_ENABLE (1u << 9)

/* Timer (4.6) */
#define TIMER_BASE 0x40054000u
#define TIMER_TIMEHR (TIMER_BASE + 0x08u)
#define TIMER_TIMELR (TIMER_BASE + 0x0cu)

/* GPIO function select and pads (2.19) */
#define IO_BANK0_GPIO_CTRL(n) (0x40014004u + 8u * (n))
#define GPIO_FUNC_UART 2u
#define PADS_BANK0_GPIO(n) (0x4001c004u + 4u * (n))
#define PADS_OD (1u << 7)
#define PADS_IE (1u << 6)
#define PADS_PUE (1u << 3)
#define PADS_PDE (1u << 2)

/* UART0, a PL011 (4.2) */
#define UART0_BASE 0x40034000u
#define UART_DR (UART0_BASE + 0x00u)
#define UART_IBRD (UART0_BASE + 0x24u)
#define UART_FBRD (UART0_BASE + 0x28u)
#define UART_LCR_H (UART0_BASE + 0x2cu)
#define UART_CR (UART0_BASE + 0x30u)
#define UART_DMACR (UART0_BASE + 0x48u)
#define UART_LCR_H_WLEN8 (3u << 5)
#define UART_LCR_H_FEN (1u << 4)
#define UART_CR_UARTEN (1u << 0)
#define UART_CR_TXE (1u << 8)
#define UART_DMACR_TXDMAE (1u << 1)

/* ADC (4.9) */
#define ADC_BASE 0x4004c000u
#define ADC_CS (ADC_BASE + 0x00u)
#define ADC_FCS (ADC_BASE + 0x08u)
#define ADC_FIFO (ADC_BASE + 0x0cu)
#define ADC_DIV (ADC_BASE + 0x10u)
#define ADC_CS_EN (1u << 0)
#define ADC_CS_START_MANY (1u << 3)
#define ADC_CS_READY (1u << 8)
#define ADC_CS_RROBIN_SHIFT 16
#define ADC_FCS_EN (1u << 0)
#define ADC_FCS_DREQ_EN (1u << 3)
#define ADC_FCS_THRESH_SHIFT 24

/* DMA (2.5) */
#define DMA_BASE 0x50000000u
#define DMA_CH_READ_ADDR(ch) (DMA_BASE + 0x40u * (ch) + 0x00u)
#define DMA_CH_WRITE_ADDR(ch) (DMA_BASE + 0x40u * (ch) + 0x04u)
#define DMA_CH_TRANS_COUNT(ch) (DMA_BASE + 0x40u * (ch) + 0x08u)
#define DMA_CH_CTRL_TRIG(ch) (DMA_BASE + 0x40u * (ch) + 0x0cu)
#define DMA_CH_AL1_CTRL(ch) (DMA_BASE + 0x40u * (ch) + 0x10u)
#define DMA_INTE0 (DMA_BASE + 0x404u)
#define DMA_INTS0 (DMA_BASE + 0x40cu)
#define DMA_CTRL_EN (1u << 0)
#define DMA_CTRL_SIZE_BYTE (0u << 2)
#define DMA_CTRL_SIZE_HALFWORD (1u << 2)
#define DMA_CTRL_INCR_READ (1u << 4)
#define DMA_CTRL_INCR_WRITE (1u << 5)
#define DMA_CTRL_CHAIN_TO_SHIFT 11
#define DMA_CTRL_TREQ_SHIFT 15
#define DMA_CTRL_BUSY (1u << 24)
#define DREQ_UART0_TX 20u
#define DREQ_ADC 36u

/* Cortex-M0+ system control (ARMv6-M) */
#define NVIC_ISER 0xe000e100u
#define IRQ_DMA_0 11u

#endif /* RP2040_REGS_H */
