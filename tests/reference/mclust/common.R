# Helpers shared by the reference scripts in this folder (sourced, not run on its own):
# where the repository is, how a sample file is read, the datasets and the deterministic
# soft responsibilities the M-step references start from.
suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/mclust"
root <- normalizePath(file.path(out_dir, "..", "..", ".."))

read_numeric <- function(file, drop = character()) {
  df <- read.csv(file.path(root, "sample_data", file))
  df <- df[, setdiff(names(df), drop), drop = FALSE]
  as.matrix(df[complete.cases(df), , drop = FALSE])
}

datasets <- list(
  faithful = list(file = "faithful.csv", drop = character(), G = c(2, 3)),
  iris = list(file = "iris.csv", drop = "Species", G = c(2, 3)),
  acidity = list(file = "acidity.csv", drop = character(), G = c(2, 3))
)

# Deterministic soft responsibilities: components anchored on rows spread along the first
# principal axis, z_ik proportional to exp(-|x_i - x_anchor_k|^2 / 2) on standardized data.
soft_z <- function(X, G) {
  Xs <- scale(X)
  pc <- if (ncol(Xs) > 1) prcomp(Xs)$x[, 1] else Xs[, 1]
  anchors <- order(pc)[round(seq(0.15, 0.85, length.out = G) * nrow(Xs))]
  d2 <- sapply(anchors, function(a) rowSums(sweep(Xs, 2, Xs[a, ])^2))
  w <- exp(-0.5 * (d2 - apply(d2, 1, min)))
  z <- w / rowSums(w)
  z <- signif(z, 6)
  z / rowSums(z)  # rows sum to 1 again; written with 17 digits, so exactly what mclust used
}
