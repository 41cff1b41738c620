# error: Invalid lane name
# at: bad_label_long.hcl:3
lane "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {}
source "vomo" {}
