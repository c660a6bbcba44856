/*
 * vectors_main.c - host program for the shared test vectors.
 *
 *   vectors CASES_FILE OUT_DIR   encode every case of CASES_FILE to OUT_DIR/<name>.bin
 *   vectors --check              print the CRC check values of "123456789"
 *
 * The test suite compiles it with bearing_frame.c using the system C compiler
 * and compares its output with the Python encoder's and the committed
 * vectors (../../vectors/). Case lines (whitespace-separated, '#' comments,
 * '-' is an empty string):
 *   info    NAME DEVICE_ID FIRMWARE RATE N_CHANNELS SCALE_NUM SCALE_DEN   (first layout: no snapshot_length)
 *   info_len NAME DEVICE_ID FIRMWARE RATE N_CHANNELS SCALE_NUM SCALE_DEN SNAPSHOT_LENGTH
 *   samples NAME SEQ FIRST_INDEX N_SAMPLES N_CHANNELS V1 V2 ... (N_SAMPLES*N_CHANNELS values)
 *   status  NAME UPTIME_MS ADC_OVERRUNS TX_OVERRUNS FRAMES_SENT ERRORS
 *   mark    NAME FIRST_INDEX TIMESTAMP_US
 * This program is test scaffolding; it uses stdio, the encoder does not. Numbers are read
 * as words and converted with strtoll/strtoull rather than the SCN* macros of <inttypes.h>:
 * newlib (arm-none-eabi) hides SCNu64 when built with GCC's own <stdint.h>, and the tests
 * also run this program on an emulated Cortex-M (QEMU semihosting).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bearing_frame.h"

#define MAX_VALUES 8192
static int16_t values[MAX_VALUES];
static uint8_t frame[BF_FRAME_OVERHEAD + BF_MAX_PAYLOAD];

static const char *text(const char *s) { return strcmp(s, "-") == 0 ? "" : s; }

/* The next whitespace-separated word of f as an integer in [lo, hi]; 1 on success. */
static int read_signed(FILE *f, long long lo, long long hi, long long *out) {
    char word[32], *end;
    if (fscanf(f, "%31s", word) != 1) return 0;
    errno = 0;
    long long v = strtoll(word, &end, 10);
    if (errno || *end || end == word || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int read_unsigned(FILE *f, unsigned long long hi, unsigned long long *out) {
    char word[32], *end;
    if (fscanf(f, "%31s", word) != 1 || word[0] == '-') return 0;
    errno = 0;
    unsigned long long v = strtoull(word, &end, 10);
    if (errno || *end || end == word || v > hi) return 0;
    *out = v;
    return 1;
}

#define READ_U(var, max) (read_unsigned(in, (max), &u) ? ((var) = u, 1) : 0)
#define READ_S(var, lo, hi) (read_signed(in, (lo), (hi), &v) ? ((var) = v, 1) : 0)

static int write_case(const char *dir, const char *name, size_t n) {
    char path[1024];
    if (n == 0) {
        fprintf(stderr, "case %s: encoder returned 0 (invalid arguments)\n", name);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(frame, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        const uint8_t check[] = "123456789";
        printf("crc16 %04X\ncrc32 %08" PRIX32 "\n", bf_crc16_ccitt_false(check, 9), bf_crc32(check, 9));
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASES_FILE OUT_DIR | --check\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    char kind[32], name[128];
    int failures = 0;
    unsigned long long u;
    long long v;
    while (fscanf(in, "%31s", kind) == 1) {
        if (kind[0] == '#') {
            int c;
            while ((c = fgetc(in)) != '\n' && c != EOF) {}
            continue;
        }
        if (fscanf(in, "%127s", name) != 1) break;
        size_t n = 0;
        if (strcmp(kind, "info") == 0 || strcmp(kind, "info_len") == 0) {
            char id[64], fw[64];
            bf_stream_info info = {0};
            unsigned ch;
            if (fscanf(in, "%63s %63s", id, fw) != 2 || !READ_U(info.sample_rate_hz, UINT32_MAX) ||
                !READ_U(ch, 255u) || !READ_S(info.scale_num, INT32_MIN, INT32_MAX) ||
                !READ_U(info.scale_den, UINT32_MAX)) break;
            info.first_layout = strcmp(kind, "info") == 0;
            if (!info.first_layout && !READ_U(info.snapshot_length, UINT32_MAX)) break;
            info.device_id = text(id);
            info.firmware_version = text(fw);
            info.n_channels = (uint8_t)ch;
            n = bf_frame_stream_info(&info, frame, sizeof frame);
        } else if (strcmp(kind, "samples") == 0) {
            uint32_t seq;
            uint64_t first;
            unsigned ns, ch;
            if (!READ_U(seq, UINT32_MAX) || !READ_U(first, UINT64_MAX) || !READ_U(ns, UINT16_MAX) ||
                !READ_U(ch, 255u)) break;
            if ((size_t)ns * ch > MAX_VALUES) break;
            for (size_t i = 0; i < (size_t)ns * ch; i++) {
                if (!READ_S(values[i], INT16_MIN, INT16_MAX)) goto bad;
            }
            bf_encoder enc;
            bf_encoder_init(&enc, seq);
            n = bf_frame_samples(&enc, first, values, (uint16_t)ns, (uint8_t)ch, frame, sizeof frame);
        } else if (strcmp(kind, "status") == 0) {
            bf_device_status st;
            if (!READ_U(st.uptime_ms, UINT64_MAX) || !READ_U(st.adc_overruns, UINT32_MAX) ||
                !READ_U(st.tx_overruns, UINT32_MAX) || !READ_U(st.frames_sent, UINT32_MAX) ||
                !READ_U(st.errors, UINT32_MAX)) break;
            n = bf_frame_device_status(&st, frame, sizeof frame);
        } else if (strcmp(kind, "mark") == 0) {
            uint64_t first;
            int64_t ts;
            if (!READ_U(first, UINT64_MAX) || !READ_S(ts, INT64_MIN, INT64_MAX)) break;
            n = bf_frame_snapshot_mark(first, ts, frame, sizeof frame);
        } else {
            fprintf(stderr, "unknown case kind %s\n", kind);
            return 2;
        }
        failures += write_case(argv[2], name, n);
    }
    if (!feof(in)) {
    bad:
        fprintf(stderr, "malformed case line near %s %s\n", kind, name);
        return 2;
    }
    return failures ? 1 : 0;
}
