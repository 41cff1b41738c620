# error: Invalid value for variable
# at: prod.auto.vars.hcl:3
batch = "many"
