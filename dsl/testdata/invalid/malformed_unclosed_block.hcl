# error: Unclosed configuration block
# at: malformed_unclosed_block.hcl:3
source "vomo" {
  kind = "vomo"
