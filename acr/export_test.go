package acr

// Unexported helpers, for the external tests.
var (
	IsGUIDForTest       = isGUID
	IsTenantForTest     = isTenant
	IsResourceIDForTest = isResourceID
)
