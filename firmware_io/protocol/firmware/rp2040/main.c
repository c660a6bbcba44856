/*
 * main.c - reference firmware for the RP2040 (Raspberry Pi Pico and boards like it), bare metal.
 *
 * Four accelerometer channels on ADC0..3 (GPIO26..29) are converted round-robin at 80 kS/s
 * (20 kHz per channel) by the ADC's free-running mode; the ADC FIFO feeds two DMA channels
 * that take turns filling 256-sample blocks (x 4 channels) in a ring of N_SLOTS. The only
 * interrupt is once per block (78 Hz): it tags the block and points the idle channel at the
 * next free slot, or at a scratch block when the ring is full (those samples are counted as
 * ADC overruns, and the sample index keeps counting, so the host sees the gap). The main loop
 * frames each block with the project's encoder (bearing_frame.c) and hands the frame to a
 * third DMA channel that feeds UART0 (2 Mbaud, 8N1) at the UART's own pace. StreamInfo and
 * DeviceStatus follow a Samples frame once a second, and start the stream.
 *
 * Protocol: ../../PROTOCOL.md. Front end and scale: docs/hardware.md. Registers: rp2040_regs.h.
 */
#include <stdint.h>

#include "../bearing_frame.h"
#include "rp2040_regs.h"

#ifndef UART_BAUD
#define UART_BAUD 2000000u /* 4 x 20 kHz needs 1.62 Mbit/s (PROTOCOL.md section 6) */
#endif
#ifndef DEVICE_ID
#define DEVICE_ID "rp2040-ref"
#endif
#define FIRMWARE_VERSION "rp2040-ref 1.0.0"

#define XOSC_HZ 12000000u
#define CLK_SYS_HZ 125000000u /* PLL_SYS: 12 MHz x 125 / 6 / 2 */
#define CLK_ADC_HZ 48000000u  /* PLL_USB: 12 MHz x 100 / 5 / 5 */

#define N_CHANNELS 4u
#define RATE_HZ 20000u
#define BLOCK 256u /* samples per channel per Samples frame (PROTOCOL.md: 2,076-byte frames) */
#define BLOCK_VALUES (BLOCK * N_CHANNELS)
#define N_SLOTS 8u /* 8 x 2 KiB: 100 ms of slack for the UART */
#define ADC_MIDSCALE 2048 /* the front end biases the signal to half the 3.3 V reference */

/* The front end of docs/hardware.md: 2.5 mg per count (+-5.12 g over the 12-bit range). */
#define SCALE_NUM 1
#define SCALE_DEN 400u

#define DMA_ADC_A 0u
#define DMA_ADC_B 1u
#define DMA_UART 2u

/* ---- sampling: ADC FIFO -> DMA -> ring of blocks -------------------------------------- */
static uint16_t slots[N_SLOTS][BLOCK_VALUES];
static uint16_t scratch[BLOCK_VALUES]; /* where a block goes when the ring is full */
static volatile uint32_t slot_block[N_SLOTS]; /* which block a slot holds (set when it is complete) */
static volatile uint32_t blocks_done;          /* blocks the ADC has completed (written or dropped) */
static volatile uint32_t blocks_consumed;      /* blocks the main loop is finished with */
static uint32_t chan_block[2];                 /* the block each ADC DMA channel is filling */
static uint8_t chan_to_slot[2];                /* 1 if that block goes to the ring, 0 to scratch */
static volatile uint32_t adc_fifo_errors;

static void point_channel(uint32_t ch, uint32_t block) {
    chan_block[ch] = block;
    chan_to_slot[ch] = (uint8_t)(block - blocks_consumed < N_SLOTS);
    uint16_t *dst = chan_to_slot[ch] ? slots[block % N_SLOTS] : scratch;
    REG(DMA_CH_WRITE_ADDR(ch)) = (uint32_t)(uintptr_t)dst; /* not a trigger alias */
}

/* DMA_IRQ_0: an ADC block is complete (78 times a second), or a frame has left (wakes the main loop). */
void isr_dma_0(void) {
    uint32_t ints = REG(DMA_INTS0);
    REG(DMA_INTS0) = ints; /* write 1 to clear */
    ints &= (1u << DMA_ADC_A) | (1u << DMA_ADC_B);
    while (ints) {
        /* the two channels alternate; if both finished, the older block first */
        uint32_t ch = (ints == 3u) ? (chan_block[0] < chan_block[1] ? 0u : 1u) : (ints == 1u ? 0u : 1u);
        ints &= ~(1u << ch);
        uint32_t b = chan_block[ch];
        if (chan_to_slot[ch]) slot_block[b % N_SLOTS] = b;
        blocks_done = b + 1u;
        point_channel(ch, b + 2u); /* it restarts when the other channel chains to it */
    }
}

/* ---- clocks: XOSC 12 MHz -> PLL_SYS 125 MHz (clk_sys, clk_peri), PLL_USB 48 MHz (clk_adc) */
static void reset_release(uint32_t bits) {
    REG_CLR(RESETS_RESET) = bits;
    while ((REG(RESETS_RESET_DONE) & bits) != bits) {}
}

static void pll_start(uint32_t base, uint32_t fbdiv, uint32_t postdiv1, uint32_t postdiv2) {
    REG(base + PLL_CS) = 1u; /* REFDIV = 1: 12 MHz into the phase detector */
    REG(base + PLL_FBDIV_INT) = fbdiv;
    REG_CLR(base + PLL_PWR) = PLL_PWR_PD | PLL_PWR_VCOPD;
    while (!(REG(base + PLL_CS) & PLL_CS_LOCK)) {}
    REG(base + PLL_PRIM) = (postdiv1 << 16) | (postdiv2 << 12);
    REG_CLR(base + PLL_PWR) = PLL_PWR_POSTDIVPD;
}

static void clocks_init(void) {
    REG(XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ;
    REG(XOSC_STARTUP) = ((XOSC_HZ / 1000u) + 128u) / 256u; /* ~1 ms, in units of 256 cycles */
    REG_SET(XOSC_CTRL) = XOSC_CTRL_ENABLE;
    while (!(REG(XOSC_STATUS) & XOSC_STATUS_STABLE)) {}

    /* clk_ref from the crystal, clk_sys from clk_ref while the PLLs start (glitchless muxes) */
    REG(CLK_REF_CTRL) = CLK_REF_SRC_XOSC;
    while (!(REG(CLK_REF_SELECTED) & (1u << CLK_REF_SRC_XOSC))) {}
    REG(CLK_SYS_CTRL) = CLK_SYS_SRC_REF;
    while (!(REG(CLK_SYS_SELECTED) & (1u << CLK_SYS_SRC_REF))) {}

    REG_SET(RESETS_RESET) = RESET_PLL_SYS | RESET_PLL_USB;
    reset_release(RESET_PLL_SYS | RESET_PLL_USB);
    pll_start(PLL_SYS_BASE, 125u, 6u, 2u); /* VCO 1500 MHz -> 125 MHz */
    pll_start(PLL_USB_BASE, 100u, 5u, 5u); /* VCO 1200 MHz -> 48 MHz */

    REG(CLK_SYS_DIV) = 1u << 8;
    REG(CLK_SYS_CTRL) = (CLK_SYS_AUXSRC_PLL_SYS << CLK_AUXSRC_SHIFT) | CLK_SYS_SRC_REF;
    REG(CLK_SYS_CTRL) = (CLK_SYS_AUXSRC_PLL_SYS << CLK_AUXSRC_SHIFT) | CLK_SYS_SRC_AUX;
    while (!(REG(CLK_SYS_SELECTED) & (1u << CLK_SYS_SRC_AUX))) {}
    REG(CLK_PERI_CTRL) = CLK_CTRL_ENABLE | (CLK_PERI_AUXSRC_CLK_SYS << CLK_AUXSRC_SHIFT);
    REG(CLK_ADC_DIV) = 1u << 8;
    REG(CLK_ADC_CTRL) = CLK_CTRL_ENABLE | (CLK_ADC_AUXSRC_PLL_USB << CLK_AUXSRC_SHIFT);

    /* the TIMER counts microseconds of the watchdog tick, made from clk_ref (12 MHz) */
    REG(WATCHDOG_TICK) = WATCHDOG_TICK_ENABLE | (XOSC_HZ / 1000000u);
}

static uint64_t time_us(void) {
    uint32_t lo = REG(TIMER_TIMELR); /* reading TIMELR latches TIMEHR */
    uint32_t hi = REG(TIMER_TIMEHR);
    return ((uint64_t)hi << 32) | lo;
}

/* ---- UART0 on GPIO0 (TX), sent by DMA ------------------------------------------------- */
static void uart_init(void) {
    /* PL011 divisor in 1/64ths, rounded: clk_peri / (16 x baud) */
    uint32_t div = (8u * CLK_SYS_HZ + UART_BAUD / 2u) / UART_BAUD;
    REG(UART_IBRD) = div >> 7;
    REG(UART_FBRD) = ((div & 0x7fu) + 1u) / 2u;
    REG(UART_LCR_H) = UART_LCR_H_WLEN8 | UART_LCR_H_FEN; /* 8N1, FIFOs on (also latches the divisor) */
    REG(UART_DMACR) = UART_DMACR_TXDMAE;
    REG(UART_CR) = UART_CR_UARTEN | UART_CR_TXE;
    REG(IO_BANK0_GPIO_CTRL(0)) = GPIO_FUNC_UART;
}

static int uart_dma_busy(void) { return (REG(DMA_CH_CTRL_TRIG(DMA_UART)) & DMA_CTRL_BUSY) != 0; }

static void uart_dma_send(const uint8_t *data, uint32_t len) {
    REG(DMA_CH_READ_ADDR(DMA_UART)) = (uint32_t)(uintptr_t)data;
    REG(DMA_CH_WRITE_ADDR(DMA_UART)) = UART_DR;
    REG(DMA_CH_TRANS_COUNT(DMA_UART)) = len;
    REG(DMA_CH_CTRL_TRIG(DMA_UART)) = DMA_CTRL_EN | DMA_CTRL_SIZE_BYTE | DMA_CTRL_INCR_READ |
                                      (DMA_UART << DMA_CTRL_CHAIN_TO_SHIFT) | (DREQ_UART0_TX << DMA_CTRL_TREQ_SHIFT);
}

/* ---- ADC: 4 inputs round-robin, FIFO -> DMA ------------------------------------------- */
static void adc_start(void) {
    for (uint32_t gpio = 26; gpio <= 29; gpio++) {
        /* analogue pins: digital input and output off, no pulls */
        REG(PADS_BANK0_GPIO(gpio)) = PADS_OD;
    }
    REG(ADC_CS) = ADC_CS_EN;
    while (!(REG(ADC_CS) & ADC_CS_READY)) {}
    /* one conversion every 1 + 599 cycles of 48 MHz = 12.5 us: 80 kS/s, 20 kHz per channel */
    REG(ADC_DIV) = (CLK_ADC_HZ / (RATE_HZ * N_CHANNELS) - 1u) << 8;
    REG(ADC_FCS) = ADC_FCS_EN | ADC_FCS_DREQ_EN | (1u << ADC_FCS_THRESH_SHIFT);

    for (uint32_t i = 0; i < N_SLOTS; i++) slot_block[i] = 0xffffffffu;
    for (uint32_t ch = DMA_ADC_A; ch <= DMA_ADC_B; ch++) {
        uint32_t other = ch ^ 1u;
        REG(DMA_CH_READ_ADDR(ch)) = ADC_FIFO;
        REG(DMA_CH_TRANS_COUNT(ch)) = BLOCK_VALUES;
        point_channel(ch, ch);
        REG(DMA_CH_AL1_CTRL(ch)) = DMA_CTRL_EN | DMA_CTRL_SIZE_HALFWORD | DMA_CTRL_INCR_WRITE |
                                   (other << DMA_CTRL_CHAIN_TO_SHIFT) | (DREQ_ADC << DMA_CTRL_TREQ_SHIFT);
    }
    REG(DMA_INTE0) = (1u << DMA_ADC_A) | (1u << DMA_ADC_B) | (1u << DMA_UART);
    REG(NVIC_ISER) = 1u << IRQ_DMA_0;
    REG(DMA_CH_CTRL_TRIG(DMA_ADC_A)) = REG(DMA_CH_AL1_CTRL(DMA_ADC_A)); /* arm channel A */
    /* AINSEL = 0, round robin over inputs 0..3, free running */
    REG(ADC_CS) = ADC_CS_EN | (0xfu << ADC_CS_RROBIN_SHIFT) | ADC_CS_START_MANY;
}

/* Sleep until an interrupt, without missing one that arrives between the check and the sleep. */
#define SLEEP_WHILE(cond)                                                   \
    do {                                                                    \
        __asm volatile("cpsid i" ::: "memory");                            \
        while (cond) {                                                      \
            __asm volatile("wfi" ::: "memory");                            \
            __asm volatile("cpsie i\n\tisb\n\tcpsid i" ::: "memory");       \
        }                                                                   \
        __asm volatile("cpsie i" ::: "memory");                            \
    } while (0)

/* ---- framing and the main loop -------------------------------------------------------- */
static const bf_stream_info stream_info = {
    .device_id = DEVICE_ID,
    .firmware_version = FIRMWARE_VERSION,
    .sample_rate_hz = RATE_HZ,
    .n_channels = N_CHANNELS,
    .scale_num = SCALE_NUM,
    .scale_den = SCALE_DEN,
    .snapshot_length = BF_CONTINUOUS, /* the ADC never pauses: the host cuts snapshots of its bundle's length */
};

#define TX_CAP (BF_SAMPLES_FRAME_SIZE(BLOCK, N_CHANNELS) + BF_INFO_FRAME_MAX + BF_STATUS_FRAME_SIZE)
static uint8_t tx_buf[2][TX_CAP];
static bf_encoder encoder;
static bf_device_status status;

static uint32_t append_info_and_status(uint8_t *out, uint32_t at) {
    status.uptime_ms = time_us() / 1000u;
    status.errors = adc_fifo_errors;
    at += (uint32_t)bf_frame_stream_info(&stream_info, out + at, TX_CAP - at);
    at += (uint32_t)bf_frame_device_status(&status, out + at, TX_CAP - at);
    return at;
}

int main(void) {
    clocks_init();
    REG_SET(RESETS_RESET) = RESET_ADC | RESET_DMA | RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_TIMER | RESET_UART0;
    reset_release(RESET_ADC | RESET_DMA | RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_TIMER | RESET_UART0);
    uart_init();
    bf_encoder_init(&encoder, 0);

    uint32_t cur = 0; /* the tx buffer not on the wire */
    uart_dma_send(tx_buf[cur], append_info_and_status(tx_buf[cur], 0));
    cur ^= 1u;
    adc_start();

    uint64_t next_info = RATE_HZ; /* StreamInfo + DeviceStatus once a second of samples */
    for (uint32_t block = 0;; block++) {
        SLEEP_WHILE(blocks_done <= block);
        if (slot_block[block % N_SLOTS] != block) { /* the ring was full: dropped in the ISR */
            status.adc_overruns += BLOCK;
            blocks_consumed = block + 1u;
            continue;
        }
        int16_t *values = (int16_t *)slots[block % N_SLOTS];
        for (uint32_t i = 0; i < BLOCK_VALUES; i++) values[i] = (int16_t)(values[i] - ADC_MIDSCALE);
        uint64_t first = (uint64_t)block * BLOCK;
        uint32_t len = (uint32_t)bf_frame_samples(&encoder, first, values, BLOCK, N_CHANNELS, tx_buf[cur], TX_CAP);
        blocks_consumed = block + 1u; /* the slot is free again */
        status.frames_sent++;
        if (first + BLOCK >= next_info) {
            /* right after a Samples frame: its adc_overruns are exactly the gaps before it */
            len = append_info_and_status(tx_buf[cur], len);
            next_info += RATE_HZ;
        }
        SLEEP_WHILE(uart_dma_busy()); /* the other buffer is still on the wire */
        if (REG(ADC_FCS) & (1u << 11)) { /* FCS.OVER: the FIFO overflowed (DMA starved): sticky */
            REG(ADC_FCS) = REG(ADC_FCS);
            adc_fifo_errors++;
        }
        uart_dma_send(tx_buf[cur], len);
        cur ^= 1u;
    }
}
