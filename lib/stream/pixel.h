/* pixel.h - reading and writing tensor elements of any dtype as double. */
#ifndef LS_PIXEL_H
#define LS_PIXEL_H

#include <stddef.h>
#include <stdint.h>

#include "stream/frame.h"

static inline double ls_px_get(const void *data, int dtype, size_t i)
{
	switch (dtype) {
	case LS_U8:
		return ((const uint8_t *)data)[i];
	case LS_U16:
		return ((const uint16_t *)data)[i];
	case LS_I16:
		return ((const int16_t *)data)[i];
	default:
		return ((const float *)data)[i];
	}
}

/* Integer dtypes round to nearest and saturate. */
static inline void ls_px_set(void *data, int dtype, size_t i, double v)
{
	switch (dtype) {
	case LS_U8:
		((uint8_t *)data)[i] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5);
		break;
	case LS_U16:
		((uint16_t *)data)[i] = (uint16_t)(v <= 0 ? 0 : v >= 65535 ? 65535 : v + 0.5);
		break;
	case LS_I16:
		((int16_t *)data)[i] = (int16_t)(v <= -32768 ? -32768 : v >= 32767 ? 32767 : v < 0 ? v - 0.5 : v + 0.5);
		break;
	default:
		((float *)data)[i] = (float)v;
	}
}

#endif
