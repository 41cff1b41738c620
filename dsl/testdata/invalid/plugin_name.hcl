# error: Invalid plugin name
# at: plugin_name.hcl:4
destination "db" {
  plugin = "My Plugin"
}
