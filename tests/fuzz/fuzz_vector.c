/* Fuzz target: vector sources as every filter reads them (GeoJSON bytes):
 * labels burned onto a tile (tile --labels), polygons as objects and points
 * (evaluate --objects, --points), lines as road centrelines (evaluate
 * --lines, with APLS on the lines against themselves). Each reader either
 * takes the input or sets an error; none may crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_vsi.h>
#include <ogr_srs_api.h>

#include "base/err.h"
#include "geo/labels.h"
#include "geo/raster.h"
#include "score/roads.h"
#include "score/scene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIDE 64
static struct ls_raster grid;
static int ready;

/* A 64 x 64 UTM grid (EPSG:32616, 0.5 m) in memory for the readers to work on. */
static int setup(void)
{
	ls_gdal_init((size_t)16 << 20);
	GDALDriverH drv = GDALGetDriverByName("GTiff");
	GDALDatasetH ds = drv ? GDALCreate(drv, "/vsimem/fuzz_grid.tif", SIDE, SIDE, 1, GDT_Byte, NULL) : NULL;
	if (!ds)
		return -1;
	double gt[6] = { 737201, 0.5, 0, 3736839, 0, -0.5 };
	GDALSetGeoTransform(ds, gt);
	OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
	OSRImportFromEPSG(srs, 32616);
	GDALSetSpatialRef(ds, srs);
	OSRDestroySpatialReference(srs);
	GDALClose(ds);
	struct ls_raster_opts o = { 0 };
	return ls_raster_open(&grid, "/vsimem/fuzz_grid.tif", &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "/vsimem/fuzz.geojson";
	if (!ready)
		ready = setup() == 0 ? 1 : -1;
	if (ready < 0)
		return 0;
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	VSIFCloseL(VSIFileFromMemBuffer(path, copy, (vsi_l_offset)size, TRUE));

	struct ls_labels l;
	uint8_t tile[SIDE * SIDE];
	ls_labels_init(&l);
	if (ls_labels_add(&l, path) == 0 && ls_labels_set_line_width(&l, 2) == 0 && ls_labels_bind(&l, &grid) == 0)
		(void)ls_labels_read_tile(&l, &grid, 0, 0, SIDE, tile);
	ls_labels_free(&l);

	int32_t ids[SIDE * SIDE], n;
	(void)ls_objects_read(path, NULL, &grid, NULL, ids, &n);
	double *x = NULL, *y = NULL;
	long np;
	if (ls_points_read(path, &grid, &x, &y, &np) == 0) {
		free(x);
		free(y);
	}
	OGRGeometryH g = NULL;
	if (ls_road_lines_read(path, NULL, &grid, &g) == 0 && g) {
		struct ls_road_score s;
		ls_road_score(g, g, 2, 10, 4, 100, &s);
		OGR_G_DestroyGeometry(g);
	}
	VSIUnlink(path);
	return 0;
}
