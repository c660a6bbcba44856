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
 *   info    NAME DEVICE_ID FIRMWARE RATE N_CHANNELS SCALE_NUM SCALE_DEN
 *   samples NAME SEQ FIRST_INDEX N_SAMPLES N_CHANNELS V1 V2 ... (N_SAMPLES*N_CHANNELS values)
 *   status  NAME UPTIME_MS ADC_OVERRUNS TX_OVERRUNS FRAMES_SENT ERRORS
 *   mark    NAME FIRST_INDEX TIMESTAMP_US
 * This program is test scaffolding; it uses stdio, the encoder does not.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../bearing_frame.h"

#define MAX_VALUES 8192
static int16_t values[MAX_VALUES];
static uint8_t frame[BF_FRAME_OVERHEAD + BF_MAX_PAYLOAD];

static const char *text(const char *s) { return strcmp(s, "-") == 0 ? "" : s; }

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
    while (fscanf(in, "%31s", kind) == 1) {
        if (kind[0] == '#') {
            int c;
            while ((c = fgetc(in)) != '\n' && c != EOF) {}
            continue;
        }
        if (fscanf(in, "%127s", name) != 1) break;
        size_t n = 0;
        if (strcmp(kind, "info") == 0) {
            char id[64], fw[64];
            bf_stream_info info;
            unsigned ch;
            if (fscanf(in, "%63s %63s %" SCNu32 " %u %" SCNd32 " %" SCNu32, id, fw, &info.sample_rate_hz, &ch,
                       &info.scale_num, &info.scale_den) != 6) break;
            info.device_id = text(id);
            info.firmware_version = text(fw);
            info.n_channels = (uint8_t)ch;
            n = bf_frame_stream_info(&info, frame, sizeof frame);
        } else if (strcmp(kind, "samples") == 0) {
            uint32_t seq;
            uint64_t first;
            unsigned ns, ch;
            if (fscanf(in, "%" SCNu32 " %" SCNu64 " %u %u", &seq, &first, &ns, &ch) != 4) break;
            if ((size_t)ns * ch > MAX_VALUES) break;
            for (size_t i = 0; i < (size_t)ns * ch; i++) {
                if (fscanf(in, "%" SCNd16, &values[i]) != 1) goto bad;
            }
            bf_encoder enc;
            bf_encoder_init(&enc, seq);
            n = bf_frame_samples(&enc, first, values, (uint16_t)ns, (uint8_t)ch, frame, sizeof frame);
        } else if (strcmp(kind, "status") == 0) {
            bf_device_status st;
            if (fscanf(in, "%" SCNu64 " %" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32, &st.uptime_ms,
                       &st.adc_overruns, &st.tx_overruns, &st.frames_sent, &st.errors) != 5) break;
            n = bf_frame_device_status(&st, frame, sizeof frame);
        } else if (strcmp(kind, "mark") == 0) {
            uint64_t first;
            int64_t ts;
            if (fscanf(in, "%" SCNu64 " %" SCNd64, &first, &ts) != 2) break;
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
