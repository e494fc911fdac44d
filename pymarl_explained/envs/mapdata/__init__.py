"""SMAC map data generated from the .SC2Map files (``smac_maps.json``) and its generator (``generate``)."""
