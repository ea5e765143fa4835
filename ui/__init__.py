"""The dashboard's Streamlit code below the page scripts (no numerics: those are in gmmcore).

state       every session key, its default, URL sync, the "open in the explorer" callbacks
data        PreparedDataset (the active dataset as the pages use it), cached fits
widgets     blocks shared by several pages (sidebar, covariance labels, data/fit or stop)
results     per-row result tables for download
data_page   the Data page's panels
explorer    the EM explorer's panels and stepper; with history (StepperRun), scatter (the data
            panel) and formulas (the E/M formula panel)
selection   the Model selection page's panels
export      the Export & import page's panels
tasks       the Tasks page's panels
"""
