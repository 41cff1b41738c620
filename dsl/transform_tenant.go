package dsl

import "github.com/zclconf/go-cty/cty"

// tenantScope builds the `tenant` object mapping and filter expressions
// see: the tenant block's attributes as given, with "id" (the label) always
// present. It is computed once per tenant at load time and kept in
// Tenant.scope, so Apply does no per-record work for it.
func tenantScope(attrs map[string]cty.Value) cty.Value {
	obj := make(map[string]cty.Value, len(attrs)+1)
	for k, v := range attrs {
		obj[k] = v
	}
	if _, ok := obj["id"]; !ok {
		obj["id"] = cty.StringVal("")
	}
	return cty.ObjectVal(obj)
}

// emptyTenantScope is what expressions see without a tenant.
var emptyTenantScope = tenantScope(nil)

// tenantValue is the tenant object for one evaluation.
func tenantValue(t *Tenant) cty.Value {
	if t == nil || t.scope.Type() == cty.NilType {
		return emptyTenantScope
	}
	return t.scope
}
