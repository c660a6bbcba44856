/*
 * vectors.c - the reset vector that lets a newlib/semihosting program (--specs=rdimon.specs)
 * start on QEMU's Cortex-M boards (mps2-an385: M3, mps2-an386: M4). newlib's _start sets up
 * the stack and heap from the semihosting HEAPINFO call; the entry here only turns the FPU on
 * first when the code is built for one (Cortex-M4F: the FPU is off at reset).
 * Link with -Wl,--section-start=.vectors=0 (QEMU loads the ELF and reads the vectors at 0).
 */
#include <stdint.h>

extern void _start(void);

static void reset(void) {
#ifdef __ARM_FP
    *(volatile uint32_t *)0xe000ed88u |= 0xfu << 20; /* CPACR: full access to CP10 and CP11 */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    _start();
}

static void hang(void) {
    for (;;) {}
}

__attribute__((section(".vectors"), used)) static void (*const vectors[4])(void) = {
    (void (*)(void))(uintptr_t)0x20400000u, /* end of the boards' 4 MB data SSRAM */
    reset,
    hang, /* NMI */
    hang, /* HardFault */
};
