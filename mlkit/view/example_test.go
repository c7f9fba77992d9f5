package view_test

import (
	"fmt"

	"github.com/visionnb/visionnb/mlkit/view"
)

func ExampleTable() {
	t := view.Table("model", "accuracy").
		Row("linear probe", 0.93).
		Row("small CNN", 0.712).
		Format(1, "%.3f").HighlightRow(0)
	fmt.Println(t.Text())
	// Output:
	//   model         accuracy
	//   ------------  --------
	// * linear probe     0.930
	//   small CNN        0.712
}

func ExampleNewPaging() {
	fmt.Println(view.NewPaging(430, 48, 1))
	// Output: page 2 of 9, 430 items (49–96)
}

func ExampleConfusionMatrix() {
	cm := view.ConfusionMatrix([]string{"cat", "dog"}, [][]int{{5, 1}, {2, 7}}).Title("Validation")
	png, err := cm.PNG()
	fmt.Println(err, len(png) > 1000)
	// Output: <nil> true
}
