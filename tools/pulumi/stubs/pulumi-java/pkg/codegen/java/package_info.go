// Package java holds the one type pulumi-docker-build needs from
// github.com/pulumi/pulumi-java/pkg/codegen/java: the Java section of a
// provider schema's `language` settings.
package java

// PackageInfo is the Java-specific part of a package schema.
type PackageInfo struct {
	BuildFiles                      string            `json:"buildFiles,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
}
