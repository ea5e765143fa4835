# Reference numbers from mclust for the conjugate prior (tests/test_prior.py, which runs
# without R).
#
# Regenerate (Debian: apt-get install r-base-core r-cran-mclust r-cran-jsonlite), from the
# repository root:
#     Rscript tests/reference/mclust/prior.R
# It writes tests/reference/mclust/prior_reference.json next to this script:
#   * "defaultPrior": defaultPrior(X, G, modelName) for each dataset, G in 1:3 and model
#     (what gmmcore.engine.prior.default_prior must reproduce);
#   * "cases": for faithful, iris (G = 2, 3) and acidity (one feature; E and V), each model
#     mclust has a prior for, the z below and
#       - "me1": me(X, model, z, prior = priorControl(), control = emControl(itmax = 1)):
#         the parameters of one M-step with the prior *as mclust's EM computes it* (the me*p
#         Fortran routines; mstep() runs separate ms*p routines that differ for a few
#         models) and the log-likelihood at those parameters;
#       - "me": me(X, model, z, prior = priorControl()) with tolerances 1e-10 / 1e-14: EM
#         from z to convergence, its final log-likelihood (not the log-posterior) and
#         iterations;
#       - "mstep": mstep(X, model, z, prior = priorControl()) parameters (for the record);
#   * "mvn": mvn(model, X, prior = priorControl()): the one-component fit mclustBIC uses for
#     G = 1, parameters and loglik;
#   * "bic": mclustBIC(X, G = 1:9, prior = priorControl()) for faithful, iris and acidity
#     (mclust's sign, higher is better; mclustBIC drops VEE, EVE, VVE, EVV under a prior).
# The inner iterations of VEI and VEV run to 1e-14 so "me1" is the M-step's fixed point.
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/mclust"
source(file.path(out_dir, "common.R"))  # root, read_numeric, datasets, soft_z

MULTI <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV")
UNI <- c("E", "V")

params_of <- function(fit, d) {
  p <- fit$parameters
  G <- length(p$pro)
  if (d == 1) {
    sigma <- rep(as.numeric(p$variance$sigmasq), length.out = G)
    cov <- lapply(seq_len(G), function(k) matrix(sigma[k], 1, 1))
  } else {
    sigma <- array(p$variance$sigma, c(d, d, G))
    cov <- lapply(seq_len(G), function(k) sigma[, , k])
  }
  list(pro = as.numeric(p$pro), mean = t(matrix(p$mean, nrow = d)), sigma = cov)
}

ONE <- emControl(itmax = c(1, 1e6), tol = c(1e-5, 1e-14))
TIGHT <- emControl(tol = c(1e-10, 1e-14))
priors <- list()
cases <- list()
mvns <- list()
bics <- list()
zs <- list()
for (name in names(datasets)) {
  spec <- datasets[[name]]
  X <- read_numeric(spec$file, spec$drop)
  d <- ncol(X)
  models <- if (d == 1) UNI else MULTI
  for (G in 1:3) {
    for (m in models) {
      pr <- defaultPrior(X, G, m)
      priors[[length(priors) + 1]] <- list(dataset = name, model = m, G = G,
                                           shrinkage = pr$shrinkage, mean = as.numeric(pr$mean),
                                           dof = pr$dof, scale = as.matrix(pr$scale))
    }
  }
  for (G in spec$G) {
    z <- soft_z(X, G)
    zs[[paste0(name, "/", G)]] <- z
    for (m in models) {
      case <- list(dataset = name, model = m, G = G)
      one <- me(X, m, z, prior = priorControl(), control = ONE, warn = FALSE)
      case$me1 <- c(params_of(one, d), list(loglik = one$loglik))
      em <- me(X, m, z, prior = priorControl(), control = TIGHT, warn = FALSE)
      if (is.finite(em$loglik)) case$me <- list(loglik = em$loglik, iterations = attr(em, "info")[[1]])
      ms <- mstep(X, m, z, prior = priorControl(), warn = FALSE)
      case$mstep <- params_of(ms, d)
      cases[[length(cases) + 1]] <- case
    }
  }
  for (m in models) {
    fit <- mvn(m, if (d == 1) drop(X) else X, prior = priorControl())
    mvns[[length(mvns) + 1]] <- c(list(dataset = name, model = m),
                                  params_of(fit, d), list(loglik = fit$loglik))
  }
  b <- mclustBIC(X, G = 1:9, prior = priorControl(), verbose = FALSE)
  bics[[name]] <- list(models = I(colnames(b)), G = 1:9, bic = unclass(b)[, , drop = FALSE])
}

ref <- list(
  generator = "tests/reference/mclust/prior.R",
  R_version = R.version.string,
  mclust_version = as.character(packageVersion("mclust")),
  defaultPrior = priors,
  z = zs,
  cases = cases,
  mvn = mvns,
  bic = bics
)
write(toJSON(ref, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", null = "null",
             na = "null"),
      file.path(out_dir, "prior_reference.json"))
cat("wrote", file.path(out_dir, "prior_reference.json"), "\n")
