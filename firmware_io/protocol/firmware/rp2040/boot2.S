/*
 * boot2.S - second-stage boot for the RP2040, written from the RP2040 datasheet
 * (section 2.8.1 "Processor controlled boot sequence", 4.10 "SSI").
 *
 * The bootrom copies the first 256 bytes of flash to SRAM at 0x20041f00, checks the
 * CRC-32 in their last 4 bytes (poly 0x04c11db7, init 0xffffffff, not reflected, no final
 * xor, over bytes 0..251) and jumps here. This stage sets up the SSI for execute-in-place
 * with the plain serial read command 03h (every 25-series flash chip answers it, at a
 * modest clock), then starts the program whose vector table follows at 0x10000100.
 * uf2.py pads this code to 252 bytes and appends the CRC.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ SSI_BASE,        0x18000000
    .equ SSI_CTRLR0,      0x00
    .equ SSI_CTRLR1,      0x04
    .equ SSI_SSIENR,      0x08
    .equ SSI_BAUDR,       0x14
    .equ SSI_SPI_CTRLR0,  0xf4
    .equ PPB_VTOR,        0xe000ed08
    .equ APP_VECTORS,     0x10000100

    /* CTRLR0: SPI_FRF = 0 (standard SPI), DFS_32 = 31 (32-bit data frames),
     * TMOD = 3 (EEPROM read: send instruction + address, then receive) */
    .equ CTRLR0_XIP,      (0 << 21) | (31 << 16) | (3 << 8)
    /* SPI_CTRLR0: XIP_CMD = 03h, WAIT_CYCLES = 0, INST_L = 2 (8-bit instruction),
     * ADDR_L = 6 (24-bit address, in 4-bit units), TRANS_TYPE = 0 (all on one line) */
    .equ SPI_CTRLR0_XIP,  (0x03 << 24) | (0 << 11) | (2 << 8) | (6 << 2) | 0
    /* clk_sys / 4: the bootrom leaves clk_sys on the ring oscillator (~6.5 MHz); the
     * program raises clk_sys to 125 MHz later, which gives a 31.25 MHz SPI clock,
     * within every 03h-capable flash chip's limit for this command (W25Q16JV: 50 MHz) */
    .equ BAUD_DIV,        4

    .section .boot2, "ax"
    .global _boot2_entry
    .type _boot2_entry, %function
_boot2_entry:
    ldr r3, =SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]      /* registers below change only while the SSI is off */
    movs r1, #BAUD_DIV
    str r1, [r3, #SSI_BAUDR]
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]      /* NDF = 0: one 32-bit frame per XIP access */
    ldr r1, =SPI_CTRLR0_XIP
    ldr r2, =(SSI_BASE + SSI_SPI_CTRLR0)
    str r1, [r2]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]      /* XIP is live: flash now reads at 0x10000000 */

    /* start the program: its vector table, stack pointer and reset handler */
    ldr r0, =APP_VECTORS
    ldr r1, =PPB_VTOR
    str r0, [r1]
    ldmia r0!, {r1, r2}
    msr msp, r1
    bx r2

    .ltorg
