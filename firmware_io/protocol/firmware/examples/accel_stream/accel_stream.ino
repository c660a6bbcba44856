/*
 * accel_stream.ino - stream 4 accelerometer channels at 20 kHz to the host (bearing-edge protocol v1).
 *
 * Board: an RP2040 board with four ADC pins broken out (e.g. Adafruit Feather RP2040:
 * A0..A3 = GP26..GP29), Arduino core "arduino-pico" (Earle Philhower). Sensors: four
 * analog accelerometers (e.g. ADXL1005 / IEPE conditioners) scaled to 0..3.3 V.
 * Other boards: replace the three marked BOARD-SPECIFIC parts (timer, ADC read, scale).
 *
 * Copy ../../bearing_frame.h and ../../bearing_frame.c next to this file (the Arduino IDE
 * only compiles files in the sketch folder), then build and upload. On the Pi:
 *   bearing-agent run --port /dev/serial/by-id/usb-...   (or read it with firmware_io)
 *
 * How it works: a hardware timer interrupt samples all channels every 50 us into one half
 * of a double buffer; when a half holds 256 samples per channel, loop() frames it and
 * writes it to USB serial while the interrupt fills the other half. If loop() falls
 * behind and both halves are full, the interrupt counts an ADC overrun and still advances
 * the sample index, so the host sees exactly which samples are missing.
 */
#include <Arduino.h>
#include <hardware/adc.h>

#include "bearing_frame.h"  // C header with its own extern "C" guard

#define N_CHANNELS 4
#define SAMPLE_RATE_HZ 20000
#define FRAME_SAMPLES 256

// --- BOARD-SPECIFIC: counts -> physical units ----------------------------------------
// 12-bit ADC centred at mid-scale (2048), sensor 100 mV/g into 3.3 V full scale:
// 1 count = 3.3 V / 4096 / 0.1 V/g = 0.008056640625 g = 33 / 4096 g.
#define SCALE_NUM 33
#define SCALE_DEN 4096
#define ADC_MIDSCALE 2048

static int16_t samples[2][FRAME_SAMPLES * N_CHANNELS];  // the double buffer
static volatile uint64_t half_first_index[2];
static volatile bool half_ready[2] = {false, false};
static volatile uint8_t filling = 0;        // half the interrupt writes to
static volatile uint16_t fill_pos = 0;      // samples per channel already in that half
static volatile uint64_t sample_index = 0;  // sample-clock ticks since start
static volatile uint32_t adc_overruns = 0;
static uint32_t tx_overruns = 0, frames_sent = 0;

static bf_encoder encoder;
static uint8_t frame[BF_SAMPLES_FRAME_SIZE(FRAME_SAMPLES, N_CHANNELS)];
static uint8_t control[BF_INFO_FRAME_MAX];
static uint32_t last_info_ms = 0;
static repeating_timer_t timer;

// --- BOARD-SPECIFIC: read one sample of every channel (runs in the interrupt) --------
static inline void read_channels(int16_t *out) {
    for (uint8_t ch = 0; ch < N_CHANNELS; ch++) {
        adc_select_input(ch);  // ADC0..ADC3 = GP26..GP29; about 2 us per conversion
        out[ch] = (int16_t)((int32_t)adc_read() - ADC_MIDSCALE);
    }
}

// Runs every 50 us: one sample of every channel into the half being filled.
static bool on_sample_tick(repeating_timer_t *) {
    uint64_t index = sample_index++;
    uint8_t half = filling;
    if (fill_pos == 0) {
        if (half_ready[half]) {  // loop() has not sent this half yet: drop the sample
            adc_overruns++;
            return true;
        }
        half_first_index[half] = index;
    }
    read_channels(&samples[half][fill_pos * N_CHANNELS]);
    if (++fill_pos == FRAME_SAMPLES) {
        half_ready[half] = true;
        filling = half ^ 1;
        fill_pos = 0;
    }
    return true;
}

// Returns whether the frame went out. With no host listening (DTR low) the frame is
// dropped whole rather than blocking the loop; the host sees the gap in seq/first_index.
static bool send_whole(const uint8_t *data, size_t n) {
    if (!Serial) return false;
    Serial.write(data, n);
    return true;
}

static void send_info_and_status(void) {
    bf_stream_info info = {"accel-rp2040-01", "accel_stream 1.0", SAMPLE_RATE_HZ, N_CHANNELS,
                           SCALE_NUM, SCALE_DEN};
    size_t n = bf_frame_stream_info(&info, control, sizeof control);
    if (n) send_whole(control, n);
    bf_device_status status = {millis(), adc_overruns, tx_overruns, frames_sent, 0};
    n = bf_frame_device_status(&status, control, sizeof control);
    if (n) send_whole(control, n);
}

void setup() {
    Serial.begin(2000000);  // ignored by USB CDC; matters for a real UART
    adc_init();
    for (uint8_t pin = 26; pin < 26 + N_CHANNELS; pin++) adc_gpio_init(pin);
    bf_encoder_init(&encoder, 0);
    send_info_and_status();
    // --- BOARD-SPECIFIC: a hardware timer at SAMPLE_RATE_HZ (negative = fixed period) --
    add_repeating_timer_us(-(1000000 / SAMPLE_RATE_HZ), on_sample_tick, NULL, &timer);
}

void loop() {
    for (uint8_t half = 0; half < 2; half++) {
        if (!half_ready[half]) continue;
        size_t n = bf_frame_samples(&encoder, half_first_index[half], samples[half], FRAME_SAMPLES,
                                    N_CHANNELS, frame, sizeof frame);
        half_ready[half] = false;  // the samples are copied into the frame: the ISR may refill
        if (n && send_whole(frame, n)) {
            frames_sent++;
        } else {
            tx_overruns++;
        }
    }
    uint32_t now = millis();
    if (now - last_info_ms >= 1000) {
        last_info_ms = now;
        send_info_and_status();
    }
}
