//! Line charts as SVG and PNG (skeleton; see issue 4).
