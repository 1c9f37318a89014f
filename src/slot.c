/* slot: CRC16-XMODEM and hash tags. */
#include "slot.h"

#include <string.h>

uint16_t slot_crc16(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(s[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
                                 : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

unsigned slot_of_key(const void *key, size_t len)
{
    const char *k = key;
    const char *open = memchr(k, '{', len);
    if (open != NULL) {
        size_t rest = len - (size_t)(open - k) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close != NULL && close > open + 1) {
            return slot_crc16(open + 1, (size_t)(close - open - 1)) &
                   (SLOT_COUNT - 1);
        }
    }
    return slot_crc16(k, len) & (SLOT_COUNT - 1);
}
