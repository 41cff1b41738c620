# error: Duplicate siphon block
# at: duplicate_siphon_block.hcl:4
siphon {}
siphon {}
source "vomo" {}
