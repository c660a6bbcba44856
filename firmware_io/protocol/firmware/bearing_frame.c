/* bearing_frame.c - see bearing_frame.h. Protocol: ../PROTOCOL.md */
#include "bearing_frame.h"

/* CRC tables indexed by one nibble: 96 bytes of flash instead of 1.5 KB,
 * still about 2 table look-ups per byte. */
static const uint16_t crc16_nibble[16] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
};
static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint16_t bf_crc16_ccitt_false(const uint8_t *data, size_t len) {
    uint16_t crc = 0xFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc = (uint16_t)((crc << 4) ^ crc16_nibble[((crc >> 12) ^ (data[i] >> 4)) & 0x0Fu]);
        crc = (uint16_t)((crc << 4) ^ crc16_nibble[((crc >> 12) ^ (data[i] & 0x0Fu)) & 0x0Fu]);
    }
    return crc;
}

uint32_t bf_crc32(const uint8_t *data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ data[i]) & 0x0Fu];
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ (uint32_t)(data[i] >> 4)) & 0x0Fu];
    }
    return crc ^ 0xFFFFFFFFu;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* Write the 8-byte header for a payload of `length` bytes; returns the payload start. */
static uint8_t *put_header(uint8_t *out, uint8_t type, uint16_t length) {
    out[0] = BF_SYNC0;
    out[1] = BF_SYNC1;
    out[2] = BF_PROTOCOL_VERSION;
    out[3] = type;
    put_u16(out + 4, length);
    put_u16(out + 6, bf_crc16_ccitt_false(out, 6));
    return out + BF_HEADER_SIZE;
}

/* Append the CRC-32 over header + payload; returns the whole frame length. */
static size_t finish(uint8_t *out, uint16_t length) {
    size_t body = BF_HEADER_SIZE + (size_t)length;
    put_u32(out + body, bf_crc32(out, body));
    return body + BF_CRC_SIZE;
}

void bf_encoder_init(bf_encoder *enc, uint32_t first_seq) {
    enc->seq = first_seq;
}

size_t bf_frame_samples(bf_encoder *enc, uint64_t first_index, const int16_t *interleaved,
                        uint16_t n_samples, uint8_t n_channels, uint8_t *out, size_t out_cap) {
    size_t values = (size_t)n_samples * n_channels;
    size_t length = BF_SAMPLES_HEADER_SIZE + 2u * values;
    if (n_channels == 0 || length > BF_MAX_PAYLOAD || out_cap < BF_FRAME_OVERHEAD + length) return 0;
    uint8_t *p = put_header(out, BF_TYPE_SAMPLES, (uint16_t)length);
    p = put_u32(p, enc->seq);
    p = put_u64(p, first_index);
    p = put_u16(p, n_samples);
    *p++ = n_channels;
    *p++ = 0; /* flags, reserved */
    for (size_t i = 0; i < values; i++) p = put_u16(p, (uint16_t)interleaved[i]);
    enc->seq++;
    return finish(out, (uint16_t)length);
}

static size_t text_len(const char *s) {
    size_t n = 0;
    while (s[n] != '\0' && n <= BF_MAX_TEXT) n++;
    return n;
}

size_t bf_frame_stream_info(const bf_stream_info *info, uint8_t *out, size_t out_cap) {
    size_t id_len = text_len(info->device_id), fw_len = text_len(info->firmware_version);
    if (id_len > BF_MAX_TEXT || fw_len > BF_MAX_TEXT || info->n_channels == 0 ||
        info->sample_rate_hz == 0 || info->scale_num == 0 || info->scale_den == 0) return 0;
    size_t length = 16u + 2u + id_len + fw_len;
    if (out_cap < BF_FRAME_OVERHEAD + length) return 0;
    uint8_t *p = put_header(out, BF_TYPE_STREAM_INFO, (uint16_t)length);
    p = put_u32(p, info->sample_rate_hz);
    *p++ = info->n_channels;
    *p++ = BF_FORMAT_INT16;
    p = put_u16(p, 0); /* reserved */
    p = put_u32(p, (uint32_t)info->scale_num);
    p = put_u32(p, info->scale_den);
    *p++ = (uint8_t)id_len;
    for (size_t i = 0; i < id_len; i++) *p++ = (uint8_t)info->device_id[i];
    *p++ = (uint8_t)fw_len;
    for (size_t i = 0; i < fw_len; i++) *p++ = (uint8_t)info->firmware_version[i];
    return finish(out, (uint16_t)length);
}

size_t bf_frame_device_status(const bf_device_status *status, uint8_t *out, size_t out_cap) {
    if (out_cap < BF_STATUS_FRAME_SIZE) return 0;
    uint8_t *p = put_header(out, BF_TYPE_DEVICE_STATUS, 24u);
    p = put_u64(p, status->uptime_ms);
    p = put_u32(p, status->adc_overruns);
    p = put_u32(p, status->tx_overruns);
    p = put_u32(p, status->frames_sent);
    put_u32(p, status->errors);
    return finish(out, 24u);
}

size_t bf_frame_snapshot_mark(uint64_t first_index, int64_t timestamp_us, uint8_t *out, size_t out_cap) {
    if (out_cap < BF_MARK_FRAME_SIZE) return 0;
    uint8_t *p = put_header(out, BF_TYPE_SNAPSHOT_MARK, 16u);
    p = put_u64(p, first_index);
    put_u64(p, (uint64_t)timestamp_us);
    return finish(out, 16u);
}
