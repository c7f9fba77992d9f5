// Package zoo is mlkit's one registry of named networks, read by training (train.Deep, train.Load, the
// facade's Deep) and by embedding (Embedder). A Spec says, for one name, how to build the network, which
// input normalisation it expects, the resolution of its reference weights, and, for models with
// pretrained weights, how to create an embedder from them (timm's registry with its pretrained configs,
// over Keras-applications-style family packages).
//
// The built-in networks are listed in catalog.go: importing zoo is enough to have them, no blank import
// or init-time registration. Add a network with Register (or MustRegister in a package variable):
//
//	var _ = zoo.MustRegister(zoo.Spec{Name: "tinycnn", Build: tinyCNN, Normalization: models.NormUnit, Size: 32})
//	res, err := train.Deep(zoo.MustLookup("tinycnn"), models.New().Size(32)).Data(...).Fit()
//
// Names are unique: registering a name (or an alias) that is taken is an error, whoever registered it.
package zoo

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/visionnb/visionnb/mlkit/embed"
	"github.com/visionnb/visionnb/mlkit/models"
)

// Spec describes one registered network.
type Spec struct {
	// Name is the one spelling of the network: what training records in config.json (the "family") and
	// what Embedder takes, e.g. "resnet50", "efficientnet_b0", "mobilenet_v2_035".
	Name string
	// Aliases are other spellings Lookup accepts for it (names used by earlier versions); Lookup returns
	// the Spec under Name.
	Aliases []string
	// Description is one line for listings.
	Description string
	// Build constructs the network for training from scratch; nil when it cannot be trained (a
	// pretrained-only embedder).
	Build models.BuildFunc
	// Normalization is how Build wants RGB pixels in [0, 1] scaled (see models.Normalize and
	// Normalization.MeanStd). Required with Build.
	Normalization models.Normalization
	// Size is the resolution in pixels of the reference configuration and of the published weights.
	// Training does not follow it (its default resolution is 224 px; set models.Config.InputSize).
	Size int
	// Embedder creates an embedder from the network's pretrained weights (or any image embedder, for
	// models that are not networks of this package's families); nil when it has none.
	Embedder embed.Factory
	// Recipe is the network's from-scratch training recipe (see Recipe); nil: train.DeepDefaults as they are.
	Recipe *Recipe
}

// Trainable reports whether the network can be trained from scratch (it has a Build).
func (s Spec) Trainable() bool { return s.Build != nil }

// Mean and Std are the per-channel statistics of the spec's normalisation, (x - Mean) / Std on RGB values
// in [0, 1] (zero values for an unknown normalisation).
func (s Spec) Mean() [3]float32 { m, _, _ := s.Normalization.MeanStd(); return m }

// Std: see Mean.
func (s Spec) Std() [3]float32 { _, d, _ := s.Normalization.MeanStd(); return d }

// Validate reports what makes s unregistrable: no name, a name or alias with spaces or upper case,
// neither Build nor Embedder, a Build without a known normalisation, or a negative size.
func (s Spec) Validate() error {
	if s.Name == "" {
		return errors.New("a model needs a Name")
	}
	for _, n := range append([]string{s.Name}, s.Aliases...) {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t\n/") {
			return fmt.Errorf("model %q: name or alias %q must be lower case, without spaces or slashes", s.Name, n)
		}
	}
	if s.Build == nil && s.Embedder == nil {
		return fmt.Errorf("model %q has neither a Build function (to train it) nor an Embedder factory (to embed with it)", s.Name)
	}
	if s.Build != nil {
		if err := s.Normalization.Validate(); err != nil {
			return fmt.Errorf("model %q: %w", s.Name, err)
		}
	}
	if s.Size < 0 {
		return fmt.Errorf("model %q: negative size %d", s.Name, s.Size)
	}
	return nil
}

// registry maps every name and alias to its spec's index.
type registry struct {
	mu    sync.RWMutex
	specs []Spec
	index map[string]int
}

var reg = newRegistry(catalog())

func newRegistry(specs []Spec) *registry {
	r := &registry{index: map[string]int{}}
	for _, s := range specs {
		if err := r.add(s); err != nil {
			panic(fmt.Errorf("zoo: built-in catalog: %w", err))
		}
	}
	return r
}

func (r *registry) add(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	names := append([]string{s.Name}, s.Aliases...)
	for i, n := range names {
		if j, taken := r.index[n]; taken {
			return fmt.Errorf("model name %q is taken (by %q)", n, r.specs[j].Name)
		}
		for _, m := range names[:i] {
			if m == n {
				return fmt.Errorf("model %q lists the name %q twice", s.Name, n)
			}
		}
	}
	s.Aliases = append([]string(nil), s.Aliases...)
	r.specs = append(r.specs, s)
	for _, n := range names {
		r.index[n] = len(r.specs) - 1
	}
	return nil
}

// Register adds s to the registry. It returns an error, and registers nothing, when s is invalid (see
// Spec.Validate) or its name or one of its aliases is taken.
func Register(s Spec) error {
	if err := reg.add(s); err != nil {
		return fmt.Errorf("zoo.Register: %w", err)
	}
	return nil
}

// MustRegister is Register for package variables and tests: it panics on error, and returns the spec.
func MustRegister(s Spec) Spec {
	if err := Register(s); err != nil {
		panic(err)
	}
	return s
}

// Lookup returns the spec registered under name or one of its aliases (the spec's Name is then the
// canonical spelling). The error lists the registered names.
func Lookup(name string) (Spec, error) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	if i, ok := reg.index[name]; ok {
		return reg.specs[i], nil
	}
	return Spec{}, fmt.Errorf("no model named %q (registered: %s)", name, strings.Join(namesLocked(), ", "))
}

// MustLookup is Lookup that panics, for names known to be registered.
func MustLookup(name string) Spec {
	s, err := Lookup(name)
	if err != nil {
		panic(fmt.Errorf("zoo: %w", err))
	}
	return s
}

// Canonical returns the Name of the spec registered under name (name itself when it is not registered),
// so that two spellings of one network compare equal.
func Canonical(name string) string {
	if s, err := Lookup(name); err == nil {
		return s.Name
	}
	return name
}

// Names lists the registered names (not aliases), sorted.
func Names() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, len(reg.specs))
	for i, s := range reg.specs {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}

// All returns the registered specs, sorted by name.
func All() []Spec {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := append([]Spec(nil), reg.specs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Embedder creates the embedder of the model registered under name (or an alias) with opts.
func Embedder(name string, opts embed.Options) (embed.Embedder, error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if s.Embedder == nil {
		var can []string
		for _, o := range All() {
			if o.Embedder != nil {
				can = append(can, o.Name)
			}
		}
		return nil, fmt.Errorf("embed: model %q has no pretrained embedder; it can be trained from scratch (Deep). Embedders: %s",
			s.Name, strings.Join(can, ", "))
	}
	e, err := s.Embedder(opts)
	if err != nil {
		return nil, fmt.Errorf("embed: creating %q: %w", s.Name, err)
	}
	return e, nil
}
