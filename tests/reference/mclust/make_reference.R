# Reference numbers from mclust for tests/test_mclust_models.py (which runs without R).
#
# Regenerate (Debian: apt-get install r-base-core r-cran-mclust r-cran-jsonlite), from the
# repository root:
#     Rscript tests/reference/mclust/make_reference.R
# It writes tests/reference/mclust/mclust_reference.json next to this script.
#
# For each dataset in sample_data/ (faithful, iris, acidity) and each of mclust's models
# (E and V for the one-feature acidity data) at a few G, it records:
#   * "z": soft responsibilities (rounded to 6 significant digits *before* use, so the JSON
#     holds exactly the z that mclust saw), one per (dataset, G);
#   * "mstep": mstep(data, model, z): the parameters of one M-step from z, and
#     estep(...)$loglik, the log-likelihood at those parameters;
#   * "me": me(data, model, z): EM from z to convergence (tight tolerances), its loglik;
#   * "mclust": Mclust(data, G, model): its own (hc-started) fit: loglik, bic, df, parameters,
#     and estep's loglik at those parameters;
#   * "nMclustParams": nMclustParams(model, d, G) for d = 1..5, G = 1..5.
# Iterative M-steps (VEI, VEV, VEE, EVE, VVE) run their inner iterations to a relative change
# of 1e-14 (mclust's default is sqrt(eps) ~ 1.5e-8) so the reference is the M-step's exact
# fixed point to ~1e-10, not an early stop.
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/mclust"
source(file.path(out_dir, "common.R"))  # root, read_numeric, datasets, soft_z

MULTI <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE",
           "EEV", "VEV", "EVV", "VVV")
UNI <- c("E", "V")
TIGHT <- emControl(tol = c(1e-10, 1e-14))

params_of <- function(fit, d) {
  p <- fit$parameters
  sigma <- if (d == 1) as.numeric(p$variance$sigmasq) else p$variance$sigma
  G <- length(p$pro)
  if (d == 1) {
    sigma <- rep(sigma, length.out = G)
    cov <- lapply(seq_len(G), function(k) matrix(sigma[k], 1, 1))
  } else {
    cov <- lapply(seq_len(G), function(k) sigma[, , k])
  }
  list(pro = as.numeric(p$pro), mean = t(matrix(p$mean, nrow = d)), sigma = cov)
}

ok <- function(fit) !is.null(fit) && is.null(attr(fit, "returnCode")) ||
  (!is.null(fit) && attr(fit, "returnCode") >= 0)

cases <- list()
zs <- list()
data_info <- list()
for (name in names(datasets)) {
  spec <- datasets[[name]]
  X <- read_numeric(spec$file, spec$drop)
  n <- nrow(X)
  d <- ncol(X)
  data_info[[name]] <- list(file = spec$file, columns = I(colnames(X)), n = n, d = d)
  models <- if (d == 1) UNI else MULTI
  for (G in spec$G) {
    z <- soft_z(X, G)
    zs[[paste0(name, "/", G)]] <- z
    for (m in models) {
      case <- list(dataset = name, model = m, G = G)
      ms <- mstep(X, m, z, control = TIGHT, warn = FALSE)
      if (all(is.finite(unlist(ms$parameters$variance[c("sigma", "sigmasq")])))) {
        es <- estep(X, m, ms$parameters, warn = FALSE)
        case$mstep <- c(params_of(ms, d), list(loglik = es$loglik))
      }
      em <- me(X, m, z, control = TIGHT, warn = FALSE)
      if (is.finite(em$loglik)) {
        case$me <- c(params_of(em, d), list(loglik = em$loglik))
      }
      fit <- Mclust(X, G = G, modelNames = m, verbose = FALSE)
      if (!is.null(fit)) {
        # fit$loglik is that of the E-step *before* the last M-step (mclust stops on a
        # relative change of 1e-5), so the loglik at the returned parameters is added.
        at <- estep(X, m, fit$parameters, warn = FALSE)$loglik
        case$mclust <- c(params_of(fit, d),
                         list(loglik = fit$loglik, loglik_at_parameters = at,
                              bic = fit$bic, df = fit$df))
      }
      cases[[length(cases) + 1]] <- case
    }
  }
}

counts <- list()
for (d in 1:5) {
  for (m in if (d == 1) c(UNI, MULTI) else MULTI) {
    for (G in 1:5) {
      counts[[length(counts) + 1]] <- list(model = m, d = d, G = G,
                                           nMclustParams = nMclustParams(m, d, G))
    }
  }
}

ref <- list(
  generator = "tests/reference/mclust/make_reference.R",
  R_version = R.version.string,
  mclust_version = as.character(packageVersion("mclust")),
  datasets = data_info,
  z = zs,
  cases = cases,
  nMclustParams = counts
)
write(toJSON(ref, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", null = "null"),
      file.path(out_dir, "mclust_reference.json"))
cat("wrote", file.path(out_dir, "mclust_reference.json"), "\n")
