package train

import "time"

// Example is one labelled image for deep training: Path is an image file on disk (jpeg, png, gif, bmp or
// webp), Label an index into the class names.
type Example struct {
	// ID identifies the example in the caller's records; train only reports it back.
	ID int64
	// Path is the image file to decode.
	Path string
	// Label is the class index, 0 <= Label < len(classes).
	Label int
}

// Embedded is one labelled embedding vector for training a Head.
type Embedded struct {
	// ID identifies the example in the caller's records.
	ID int64
	// Vector is the frozen embedding; every vector of a run must have the same length.
	Vector []float32
	// Label is the class index, 0 <= Label < len(classes).
	Label int
}

// StepInfo describes one finished training step, for Progress.Step.
type StepInfo struct {
	// Epoch is 1-based; Epochs the total planned.
	Epoch, Epochs int
	// Step is 1-based within the epoch; Steps the number of steps per epoch.
	Step, Steps int
	// GlobalStep counts steps since the start of the run (resumed runs included).
	GlobalStep int64
	// Loss is this batch's training loss; Accuracy the running training accuracy of the epoch so far.
	Loss, Accuracy float64
	// LearningRate used by this step.
	LearningRate float64
	// ExamplesPerSecond is the epoch's training throughput so far.
	ExamplesPerSecond float64
	// ETA estimates the time left for the whole run.
	ETA time.Duration
}

// EpochStats is one row of the training history.
type EpochStats struct {
	// Epoch is 1-based.
	Epoch int `json:"epoch"`
	// TrainLoss and TrainAccuracy are averaged over the epoch's training steps (augmented data, training
	// mode: dropout on).
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	// ValLoss and ValAccuracy are measured on the whole validation split after the epoch (NaN-free: both 0
	// and HasVal false when there is no validation split).
	ValLoss     float64 `json:"val_loss"`
	ValAccuracy float64 `json:"val_accuracy"`
	HasVal      bool    `json:"has_val"`
	// ValPredictedShare is the share of the validation predictions that went to each class (index = label),
	// and CollapsedTo the class name they collapsed to when Collapse says they did ("" otherwise).
	ValPredictedShare []float64 `json:"val_predicted_share,omitempty"`
	CollapsedTo       string    `json:"collapsed_to,omitempty"`
	// LearningRate at the end of the epoch.
	LearningRate float64 `json:"learning_rate"`
	// Seconds is the epoch's wall time (training and validation); ExamplesPerSecond the training throughput.
	Seconds           float64 `json:"seconds"`
	ExamplesPerSecond float64 `json:"examples_per_second"`
}

// Progress receives training progress. Step is called after every training step, Epoch after every epoch
// once its checkpoint (if any) is on disk. Implementations must be fast; they run on the training goroutine.
type Progress interface {
	Step(info StepInfo)
	Epoch(stats EpochStats)
}

// Result is what a finished (or early-stopped) run returns.
type Result struct {
	// Classes are the class names, index = label.
	Classes []string
	// History has one row per epoch run (resumed epochs included, read back from history.json).
	History []EpochStats
	// BestEpoch is the 1-based epoch whose weights the model holds: the last epoch, or the best validation
	// epoch when early stopping restored it.
	BestEpoch int
	// StoppedEarly is true when early stopping ended the run before Epochs.
	StoppedEarly bool
	// ResumedFromEpoch is the number of epochs read back from an earlier interrupted run (0 for a fresh run).
	ResumedFromEpoch int
	// FinalTrainLoss is the training loss of the model's epoch (BestEpoch).
	FinalTrainLoss float64
	// Backend is the GoMLX backend's name the run used.
	Backend string
	// Devices is the number of devices this call's training steps ran on (see Options.Devices).
	Devices int
	// Dir is the output directory (empty when the run was not saved).
	Dir string
	// Predictor predicts with the trained weights.
	Predictor *Predictor
	// Elapsed is the wall time of this call (not of resumed earlier epochs).
	Elapsed time.Duration
}
