# pipelines/map-scenes.mk - the same scene mapping as map-scenes.sh, as make
# targets (one per scene output), for make -j and its dependency tracking:
#
#   make -f pipelines/map-scenes.mk MODEL=m.model OUT=maps SCENES="a.tif b.tif" [GSD=0.5] -j2
#
# A scene is redone when its output is missing or older than the scene or
# the model. Variables: TILE (128), OVERLAP (32), CLASS (1), BIN.
MS := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))/map-scenes.sh
OUT ?= maps
TILE ?= 128
OVERLAP ?= 32
GSD ?= -
CLASS ?= 1
ABSOUT := $(abspath $(OUT))
ARGS = $(abspath $(MODEL)) $(ABSOUT) $(TILE) $(OVERLAP) $(GSD) $(CLASS)

all: $(foreach s,$(SCENES),$(OUT)/buildings_$(basename $(notdir $(s))).gpkg)

define scene_rule
$(OUT)/buildings_$(basename $(notdir $(1))).gpkg: $(1) $(MODEL)
	@mkdir -p $(OUT)/logs $(OUT)/stats $(OUT)/parts
	$(MS) --job stats $(ARGS) $(abspath $(1))
	$(MS) --job part $(ARGS) $(abspath $(1)) 1 1
	$(MS) --job merge $(ARGS) $(abspath $(1)) 1 1
endef
$(foreach s,$(SCENES),$(eval $(call scene_rule,$(s))))

.PHONY: all
.DELETE_ON_ERROR:
