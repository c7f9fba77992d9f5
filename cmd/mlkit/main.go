// Command mlkit manages mlkit apps from the shell: create an app, upload images, label them, list
// concepts and inputs, split a dataset version and print statistics.
//
//	mlkit create animals
//	mlkit upload --app animals --labels-from-folders ./photos
//	mlkit label --app animals --concept dog 12 13 14
//	mlkit split --app animals --counts 500,100,100 --seed 42
//	mlkit stats --app animals --json
//
// Every command takes --app (a name under $MLKIT_HOME, default ~/mlkit/apps, or a path; default
// $MLKIT_APP) and --json. Only create makes an app; every other command fails on a missing one. Numeric
// flags are checked against their range. Exit status: 0 ok, 1 error (also when nothing was done, e.g. an
// upload where every file was rejected), 2 usage. 'mlkit help COMMAND' prints a command's flags.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
