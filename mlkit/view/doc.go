// Package view shows plain data in a notebook or writes it to files: image galleries, tables and charts
// (line, ROC/PR curves, grouped bars, heatmaps / confusion matrices), side-by-side rows and columns of
// them, and a progress line for long runs.
//
// Every renderable is built with a fluent builder and offers HTML() (a self-contained fragment: images
// are embedded as data: URIs, every user string is escaped) and PNG(). Charts are drawn to PNG in pure
// Go by default; .Interactive() switches their HTML to an Apache ECharts chart whose library is inlined
// (no network needed) once per output, and by Show once per notebook page (a cell's first chart). Every
// HTML output is styled by inline style attributes only, so it renders in an untrusted notebook too,
// where an interactive chart shows its PNG and a one-line hint (TrustHint) instead.
//
// Drill-downs work in every viewer too: ConfusionCells puts the images behind each cell of a confusion
// matrix under it, one <details> line per cell (a click on the cell opens it in a trusted notebook), and
// GalleryView.Detail attaches such a line to a gallery item. Live redraws one output in place (training
// curves after every epoch).
//
// Show displays a renderable inline when running inside a GoNB notebook and otherwise writes it to a
// file in the output directory (SetOutputDir, or $MLKIT_VIEW_DIR, or ./mlkit-out), returning its path:
//
//	view.Gallery().Add(view.Item{Image: path, Caption: name, Label: "dog", Score: 0.93}).
//		Columns(6).PageSize(48).Page(0).Title("Nearest neighbours").Show()
//	view.Row(cmA, cmB, cmC).Show()
//
// view knows nothing about where its data comes from; it depends only on the standard library,
// x/image, imaging and gonbui.
package view
