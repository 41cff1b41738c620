# error: Missing jsonl config attribute dir
# at: jsonl_missing_dir.hcl:4
source "vomo" {}
destination "out" {
  plugin = "jsonl"
}
