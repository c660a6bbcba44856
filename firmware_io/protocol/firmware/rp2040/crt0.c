/* crt0.c - vector table and reset handler (boot2 points VTOR here and jumps to reset_handler). */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);
void isr_dma_0(void);

static void reset_handler(void) {
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    main();
    for (;;) {}
}

/* An unexpected exception stops here, where a debugger finds it. */
static void fault_handler(void) {
    for (;;) { __asm volatile("bkpt #0"); }
}

#define N_IRQ 32
__attribute__((section(".vectors"), used)) static void (*const vectors[16 + N_IRQ])(void) = {
    (void (*)(void))__stack_top, reset_handler, fault_handler, fault_handler,
    [4 ... 15] = fault_handler,
    [16 ... 16 + 10] = fault_handler,
    [16 + 11] = isr_dma_0, /* DMA_IRQ_0 */
    [16 + 12 ... 16 + N_IRQ - 1] = fault_handler,
};
