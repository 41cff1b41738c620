# error: Duplicate retry block
# at: duplicate_retry_block.hcl:5
source "vomo" {
  retry {}
  retry {}
}
