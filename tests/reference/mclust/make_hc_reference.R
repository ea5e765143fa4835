# Reference numbers for mclust's start and model selection (tests/test_mclust_hc.py, which
# runs without R).
#
# Regenerate (Debian: apt-get install r-base-core r-cran-mclust r-cran-jsonlite), from the
# repository root:
#     Rscript tests/reference/mclust/make_hc_reference.R
# It writes tests/reference/mclust/hc_reference.json next to this script: for faithful and
# iris, the merges and hclass(tree, 1:9) of the tree mclustBIC starts from,
# hc(X, modelName = "VVV", use = "SVD") (mclust.options("hcModelName", "hcUse"); note that
# hc(X) alone defaults to use = "VARS", also recorded, as "merges_vars"), and mclustBIC(X,
# G = 1:9) (every model, NA for the cells mclust could not fit); for the one-feature acidity
# data, qclass(x, k) for k = 1:9 (mclust's start in one dimension).
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/mclust"
source(file.path(out_dir, "common.R"))  # root, read_numeric, datasets, soft_z

stopifnot(mclust.options("hcUse") == "SVD", mclust.options("hcModelName") == "VVV")
out <- list(generator = "tests/reference/mclust/make_hc_reference.R",
            R_version = R.version.string,
            mclust_version = as.character(packageVersion("mclust")))
for (spec in list(list(name = "faithful", file = "faithful.csv", drop = character()),
                  list(name = "iris", file = "iris.csv", drop = "Species"))) {
  X <- read_numeric(spec$file, spec$drop)
  tree <- hc(X, modelName = mclust.options("hcModelName"), use = mclust.options("hcUse"))
  cl <- hclass(tree, 1:9)
  vars <- hc(X, modelName = "VVV", use = "VARS")
  bic <- mclustBIC(X, G = 1:9, verbose = FALSE)
  best <- summary(bic, X)
  out[[spec$name]] <- list(
    file = spec$file, columns = I(colnames(X)),
    merges = t(unclass(tree)[1:2, ]),  # 1-based labels, one merge per row
    merges_vars = t(unclass(vars)[1:2, ]),
    hclass = lapply(1:9, function(k) as.integer(cl[, as.character(k)])),
    bic_models = I(colnames(bic)),
    bic = lapply(seq_len(nrow(bic)), function(g) as.numeric(bic[g, ])),
    best_model = best$modelName, best_G = best$G, best_bic = best$bic,
    best_loglik = best$loglik)
}
acidity <- read_numeric("acidity.csv")
out$acidity <- list(file = "acidity.csv",
                    qclass = lapply(1:9, function(k) as.integer(mclust:::qclass(acidity[, 1], k))))
write(toJSON(out, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", na = "null"),
      file.path(out_dir, "hc_reference.json"))
cat("wrote", file.path(out_dir, "hc_reference.json"), "\n")
