// Package codegen holds the one type pulumi-docker-build needs from
// github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen: the C#
// section of a provider schema's `language` settings.
package codegen

// CSharpPackageInfo is the C#-specific part of a package schema.
type CSharpPackageInfo struct {
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
}
