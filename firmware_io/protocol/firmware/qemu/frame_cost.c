/*
 * frame_cost.c - instructions per Samples frame of the encoder, counted on QEMU.
 *
 * Run under `qemu-system-arm -icount shift=0,align=off,sleep=off` (every instruction advances
 * virtual time by exactly 1 ns) on mps2-an385/an386 with semihosting. SysTick counts that virtual
 * time; a calibration loop of a known number of instructions converts SysTick ticks to
 * instructions, so the result does not depend on the board's SysTick clock. Prints:
 *   instructions_per_frame N        bf_frame_samples, 256 samples x 4 channels (2,076-byte frame)
 *   instructions_per_crc32_byte X   bf_crc32 alone, over the frame's 2,072 checked bytes
 * Build with -ffunction-sections -fdata-sections (as the firmware is built).
 */
#include <stdint.h>
#include <stdio.h>

#include "../bearing_frame.h"

#define SYST_CSR (*(volatile uint32_t *)0xe000e010u)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014u)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018u)
#define N_SAMPLES 256u
#define N_CHANNELS 4u
#define REPEAT 32u
#define CALIBRATION_LOOPS 1000000u

static int16_t block[N_SAMPLES * N_CHANNELS];
static uint8_t frame[BF_SAMPLES_FRAME_SIZE(N_SAMPLES, N_CHANNELS)];

static uint32_t ticks_since(uint32_t start) { return (start - SYST_CVR) & 0xffffffu; } /* counts down */

/* 2 instructions a pass (subs, bne), plus a handful to enter and leave */
static void __attribute__((noinline)) counted_loop(uint32_t n) {
    __asm volatile(".syntax unified\n1: subs %0, %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
}

int main(void) {
    uint32_t x = 12345u;
    for (uint32_t i = 0; i < N_SAMPLES * N_CHANNELS; i++) { /* any values: the cost does not depend on them */
        x = x * 1103515245u + 12345u;
        block[i] = (int16_t)(x >> 16);
    }
    SYST_RVR = 0xffffffu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enable, processor clock */

    uint32_t t0 = SYST_CVR;
    counted_loop(CALIBRATION_LOOPS);
    double ticks_per_instruction = (double)ticks_since(t0) / (2.0 * CALIBRATION_LOOPS);

    bf_encoder enc;
    bf_encoder_init(&enc, 0);
    size_t len = 0;
    t0 = SYST_CVR;
    for (uint32_t r = 0; r < REPEAT; r++) {
        len = bf_frame_samples(&enc, (uint64_t)r * N_SAMPLES, block, N_SAMPLES, N_CHANNELS, frame, sizeof frame);
    }
    double frame_instr = (double)ticks_since(t0) / ticks_per_instruction / REPEAT;

    volatile uint32_t sink = 0;
    t0 = SYST_CVR;
    for (uint32_t r = 0; r < REPEAT; r++) sink += bf_crc32(frame, len - BF_CRC_SIZE);
    double crc_instr = (double)ticks_since(t0) / ticks_per_instruction / REPEAT;
    (void)sink;

    printf("frame_bytes %u\n", (unsigned)len);
    printf("instructions_per_frame %.0f\n", frame_instr);
    printf("instructions_per_crc32_byte %.2f\n", crc_instr / (double)(len - BF_CRC_SIZE));
    printf("instructions_per_sample_value %.2f\n", frame_instr / (N_SAMPLES * N_CHANNELS));
    return 0;
}
