region_name = "us"
