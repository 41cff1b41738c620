# error: Invalid duration for timeout
# at: bad_timeout.hcl:4
source "vomo" {
  timeout = "soon"
}
