/*
 * bearing_frame.h - reference encoder for the bearing-edge serial protocol v1.
 *
 * Frames a block of int16 samples (and the stream info, device status and
 * snapshot-mark frames) into a caller-owned buffer. No dynamic memory, no
 * floating point, no dependency beyond <stdint.h>/<stddef.h>; bytes are
 * written little-endian one by one, so it runs unchanged on any MCU
 * (AVR, ARM Cortex-M, Xtensa, RISC-V) whatever its own byte order.
 *
 * The protocol is specified in ../PROTOCOL.md; the Python twin is
 * firmware_io/encoder.py and the shared test vectors are in ../vectors/.
 */
#ifndef BEARING_FRAME_H
#define BEARING_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BF_PROTOCOL_VERSION 1u
#define BF_SYNC0 0xA5u
#define BF_SYNC1 0x7Eu
#define BF_HEADER_SIZE 8u
#define BF_CRC_SIZE 4u
#define BF_FRAME_OVERHEAD (BF_HEADER_SIZE + BF_CRC_SIZE)
#define BF_MAX_PAYLOAD 16384u
#define BF_MAX_TEXT 32u

#define BF_TYPE_STREAM_INFO 0x01u
#define BF_TYPE_SAMPLES 0x02u
#define BF_TYPE_DEVICE_STATUS 0x03u
#define BF_TYPE_SNAPSHOT_MARK 0x10u

#define BF_FORMAT_INT16 1u
#define BF_SAMPLES_HEADER_SIZE 16u

/* Bytes needed for a Samples frame of n samples per channel x n_channels. */
#define BF_SAMPLES_FRAME_SIZE(n, n_channels) \
    (BF_FRAME_OVERHEAD + BF_SAMPLES_HEADER_SIZE + 2u * (size_t)(n) * (size_t)(n_channels))
/* Largest Stream Info frame (both strings at BF_MAX_TEXT bytes, and snapshot_length). */
#define BF_INFO_FRAME_MAX (BF_FRAME_OVERHEAD + 16u + 2u + 2u * BF_MAX_TEXT + 4u)
/* StreamInfo.snapshot_length of a device that samples without pause. */
#define BF_CONTINUOUS 0u
#define BF_STATUS_FRAME_SIZE (BF_FRAME_OVERHEAD + 24u)
#define BF_MARK_FRAME_SIZE (BF_FRAME_OVERHEAD + 16u)

/* The encoder's state: only the Samples sequence number (wraps at 2^32). */
typedef struct {
    uint32_t seq;
} bf_encoder;

typedef struct {
    const char *device_id;        /* UTF-8, at most BF_MAX_TEXT bytes */
    const char *firmware_version; /* UTF-8, at most BF_MAX_TEXT bytes */
    uint32_t sample_rate_hz;
    uint8_t n_channels;
    int32_t scale_num;            /* physical units per count = scale_num / scale_den */
    uint32_t scale_den;           /* e.g. 1 / 1000 for 0.001 g per count */
    uint32_t snapshot_length;     /* samples per burst; BF_CONTINUOUS (0): samples without pause */
    uint8_t first_layout;         /* 1: leave snapshot_length out (the first StreamInfo layout; tests) */
} bf_stream_info;

typedef struct {
    uint64_t uptime_ms;
    uint32_t adc_overruns;  /* samples lost because the sample buffer was full */
    uint32_t tx_overruns;   /* frames dropped because the serial TX buffer was full */
    uint32_t frames_sent;
    uint32_t errors;        /* anything else, e.g. sensor read failures */
} bf_device_status;

void bf_encoder_init(bf_encoder *enc, uint32_t first_seq);

/*
 * Each bf_frame_* writes one whole frame to out and returns its length in
 * bytes, or 0 (nothing usable written) if out_cap is too small or an
 * argument is out of range.
 */
size_t bf_frame_samples(bf_encoder *enc, uint64_t first_index, const int16_t *interleaved,
                        uint16_t n_samples, uint8_t n_channels, uint8_t *out, size_t out_cap);
size_t bf_frame_stream_info(const bf_stream_info *info, uint8_t *out, size_t out_cap);
size_t bf_frame_device_status(const bf_device_status *status, uint8_t *out, size_t out_cap);
/* Replay only; timestamp in microseconds since the unix epoch (UTC). */
size_t bf_frame_snapshot_mark(uint64_t first_index, int64_t timestamp_us, uint8_t *out, size_t out_cap);

/* The protocol's checks, exposed for tests: CRC-16/CCITT-FALSE and CRC-32/ISO-HDLC. */
uint16_t bf_crc16_ccitt_false(const uint8_t *data, size_t len);
uint32_t bf_crc32(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BEARING_FRAME_H */
