#!/bin/sh
# Regenerates share/man/man1/sfnet-explore.1: the hand-written parts below and,
# for every subcommand, its own --help text, so that the two always agree.
#   sh share/man/mkman.sh ./sfnet-explore > share/man/man1/sfnet-explore.1
set -eu
BIN=${1:-./sfnet-explore}
VERSION=$("$BIN" --version | awk '{print $2}')

# troff-safe verbatim text: backslashes, leading dots and quotes
verbatim() { sed -e 's/\\/\\e/g' -e "s/^\\./\\\\\\&./" -e "s/^'/\\\\\\&'/"; }

cat <<HEAD
.TH SFNET-EXPLORE 1 "2026" "sfnet-explore $VERSION" "User Commands"
.SH NAME
sfnet-explore \- train Sparse Feature Networks on galaxy images and browse their features
.SH SYNOPSIS
.B sfnet-explore
.RI [ OPTIONS ] " RUN.db"
.br
.B sfnet-explore
.I COMMAND
.RI [ OPTIONS ] " ..."
.br
.B sfnet-explore \-\-train
.IR "TRAINING OPTIONS RUN.db"
.SH DESCRIPTION
.B sfnet-explore
trains a Sparse Feature Network (a ResNet18 whose 512 pooled features pass
through a top-k layer, then one linear layer) to predict gas metallicity or
emission-line fluxes from galaxy image cutouts, stores every galaxy's sparse
activations in an SQLite run database, and lets you browse the learned
features in the terminal.
Features are named by run and index: \fBSL 17\fR is feature 17 of the
spectral-line run, \fBZ 256\fR feature 256 of the metallicity run.
.PP
With a run database as its argument (a name ending in \fI.db\fR, or any
existing file that is not a command) it opens the explorer. When standard
output is not a terminal it prints every run's feature list and equations
instead.
.SH THE EXPLORER
.SS Options
.TP
.BI \-\-run " SPEC"
open this run (its prefix, such as SL or Z, or its id).
.TP
.BI \-\-feature " F"
open straight at a feature (\fB17\fR, \fB"SL 17"\fR).
.TP
.BI \-\-galaxy " OBJID"
open straight at a galaxy.
.TP
.BI \-\-graphics " MODE"
thumbnails: \fBauto\fR (default), \fBsixel\fR, \fBkitty\fR, \fBsymbols\fR or
\fBnone\fR. Auto takes \fB\$SFNET_GRAPHICS\fR when set, symbols inside tmux,
then what the terminal itself answers, then what libchafa's terminal database
knows of it from the environment; symbols otherwise. Symbols are Unicode blocks
written into the text cells: they work over ssh and in tmux. Pixel images are
drawn after each frame and cleared by repainting their cells.
.IP
Before the screen starts, when standard input and output are a terminal and
the mode is auto (or sixel or kitty without \-\-cell\-size), the explorer asks
the terminal, for at most 150 ms: the kitty graphics query (an answer \fBOK\fR
means kitty images), \fBCSI 16 t\fR and \fBCSI 14 t\fR (cell and window size
in pixels) and \fBDA1\fR (\fBCSI c\fR; attribute 4 means sixel). The DA1 reply
ends the wait. Sixel is chosen only when the cell size is known. A terminal
that answers takes a few milliseconds; one that answers nothing costs the
150 ms and gets symbols (or what the terminal database says). Inside tmux or
GNU screen and on the Linux console the kitty query is not sent; with
\fBTERM=dumb\fR nothing is. Replies later than that are discarded, not read
as keys, when they arrive before the screen starts.
.TP
.BI \-\-cell\-size " WxH"
the pixel size of one terminal cell (e.g. \fB10x20\fR), for sizing sixel and
kitty images. Without it: \fB\$SFNET_CELL_SIZE\fR, then the terminal's reply
to \fBCSI 16 t\fR, then its \fBCSI 14 t\fR window size divided by its rows and
columns, then the pixel size the terminal gives the kernel (\fBTIOCGWINSZ\fR),
then a guess of 10x20. When the terminal is resized the cell size is read
again from \fBTIOCGWINSZ\fR if it reports pixels there (a font zoom changes
it); the terminal is not asked again while the explorer runs, since its
replies would arrive as keys. A size given by hand is kept.
.TP
.BI \-\-color " WHEN"
\fBauto\fR (default: colour unless \fBNO_COLOR\fR is set), \fBalways\fR or
\fBnever\fR. 8, 256 and direct (24-bit, \fBTERM=*-direct\fR) colour terminals
are used as such. Without colour the plots use the glyphs \fB\(md : * #\fR
by activation instead of coloured braille dots.
.TP
.B \-\-no\-mouse
leave the mouse to the terminal.
.TP
.B \-\-dump\-detect
print what the terminal was asked and answered (the replies as received, and
how long it took), the cell size and where it came from, the graphics mode
chosen and why, and the terminal variables; then exit.
.SS Screens
.TP
.B Feature list
the home screen: one row per live feature of the current run with its
label, the galaxies where it is active, f_activated (fraction of validation
galaxies) with a bar, maximum and mean activation, the head's weight for each
target and the correlation with the first target. Dead features are hidden
(\fBz\fR shows them); \fBs\fR cycles the sort key.
.TP
.B Feature page
the top-activating galaxies as thumbnails with objID and activation, samples
at activation quantiles (low to high), the BPT diagram (log [NII]/H\(*a
against log [OIII]/H\(*b) of the validation galaxies coloured by the
feature's scaled activation, strongest drawn last, with the Kauffmann et al.
2003 and Kewley et al. 2001 lines and a colour bar (activation against the
target when the catalogue has no line fluxes), the histogram of the scaled
activation, the statistics, the head's weights, the feature's mean
contribution to the first prediction and its share, the label and a label
suggested from the catalogue columns. \fB+\fR and \fB\-\fR zoom the scatter.
Below the thumbnails, the similar features: the 5 features whose activation
correlates most with this one (Pearson r over all the run's galaxies, a galaxy
where a feature is inactive counting as 0), with r and the number of galaxies
where both are active; \fBc\fR selects them and \fBEnter\fR opens one
(\fBq\fR comes back). The correlations of every pair come from one pass over
the run's activations, made when the first feature page of a run opens.
Under the plots, for every other run that shares galaxies with this one (the Z
run of an SL feature, and so on), its counterparts: the 3 features of that run
most correlated with this one over the galaxies both runs hold, with Pearson r,
the galaxies where both are active and the conditional f_activated (of the
galaxies where this feature is active, the share where the counterpart is too).
\fBx\fR jumps to the strongest counterpart's page in the other run (or to the
one selected with \fBo\fR); \fBq\fR comes back to this feature, in its run,
with the same selection: the way back goes across runs.
.TP
.B Equation view
prediction = c + sum w'\(pc A over the live features, terms sorted by mean
contribution, with the validation RMSE when only the top 1, 2, 4, 8 features are
kept; each term opens its feature.
.TP
.B Galaxy page
the cutout, the catalogue values, prediction against truth for each target,
and the galaxy's active features with their contributions to the prediction
(a waterfall from the intercept to the prediction). Beside them, its active
features in every other run that holds it (\fBo\fR selects them, \fBx\fR or
\fBEnter\fR jumps there); below, the galaxies most similar to it in the run,
nearest by the cosine of their sparse codes, as thumbnails with the cosine
(\fBc\fR selects them, \fBEnter\fR opens one).
.TP
.B Compare
(\fBC\fR) the current run's live features (rows) against another run's
(columns): Pearson r over the galaxies both hold as coloured cells (blue \-1,
white 0, red +1), ordered so that related features sit along the diagonal, and
under each column the R^2 of a ridge regression predicting that feature from
all the current run's activations, fitted on the other run's training galaxies
and scored on its validation galaxies (Wu 2025, Section 4.4). The cell under the
cursor is described at the right. \fBEnter\fR opens the row's feature,
\fBx\fR the column's (in the other run), \fBo\fR compares with the next run,
\fBw\fR swaps the runs, \fBe\fR writes \fIcompare_A_B.png\fR.
.TP
.B Marks
the marks (bookmarks) of the current run: marked features with their labels,
then marked galaxies with their objIDs, with notes (set by the \fBmarks\fR
command) and the day each was made. \fBEnter\fR opens one, \fBm\fR removes it.
Marked rows show \fB*\fR in the first column of every screen. Marks are kept in
the run database; a read-only file can be browsed but not marked.
.SS Keys
.TP 16
.BR j " " k " " Down " " Up
move the selection
.TP
.BR PgDn " " PgUp " " ^d " " ^u
page down, up
.TP
.BR g " " G " " Home " " End
first, last
.TP
.BR Enter ", click"
open the selection (click selects; a second click opens)
.TP
.BR q " " Esc " " Backspace
back, to the screen before and its run (a jump to another run's feature comes
back to where it was); quits on the feature list
.TP
.B Q
quit
.TP
.B Tab
switch to the next run, so that SL and Z features are one key apart
.TP
.BR [ " " ]
previous, next feature (in the list's order)
.TP
.B r
a random live feature
.TP
.B /
search a feature by number, name or label (an objID opens the galaxy)
.TP
.BR n " " N
next, previous match
.TP
.B :
jump to a feature (\fB17\fR, \fBSL 17\fR) or a galaxy (objID)
.TP
.B e
export the feature to \fIPREFIX_FEATURE.png\fR in the current directory
(the BPT diagram beside the top 9 galaxies, as \fBexport \-\-bpt\fR)
.TP
.B E
the run's equation
.TP
.B C
compare the run with another run sharing its galaxies (the compare screen)
.TP
.B L
edit the feature's label (stored in the run database; empty clears)
.TP
.B m
mark or unmark the feature (feature list, feature page) or the galaxy (galaxy
page); on the marks screen, remove the selected mark
.TP
.B M
the marks of the run
.TP
.B c
feature page: select the similar features; galaxy page: select the similar
galaxies (again: the next one)
.TP
.B o
feature page: select the counterparts in the other runs; galaxy page: select
its features in the other runs; compare screen: the next other run
.TP
.B x
feature page: jump to the selected counterpart, or the strongest; galaxy page:
jump to the selected feature of another run; compare screen: open the column's
feature in the other run
.TP
.B w
compare screen: swap the two runs
.TP
.BR s " " S
feature list: cycle the sort key (frequency, feature, |weight|,
|correlation|, max, label), reverse the order
.TP
.B z
feature list: show or hide dead features
.TP
.BR h " " l " " Left " " Right
equation and galaxy pages: previous, next target; feature page: previous,
next galaxy
.TP
.BR + " " \- " " 0
feature page: zoom the scatter in, out, back to the paper's limits
.TP
.B p
plots: braille dots or plain glyphs
.TP
.B t
thumbnails: symbols, pixels (when detected), none
.TP
.B ?
help: every key (j and k scroll it, any other key closes it)
.TP
.B mouse
the wheel scrolls, a click selects, a second click opens
.PP
The terminal may be resized at any time; below 50x14 the explorer says it is
too small until it grows again.
.SH COMMANDS
Each command prints its own help with \fB\-\-help\fR; the texts below are those.
HEAD

for c in $("$BIN" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
    echo ".SS $c"
    echo ".nf"
    "$BIN" "$c" --help | verbatim
    echo ".fi"
done

# Training is an option of the main command rather than a subcommand.
if "$BIN" --train --help >/dev/null 2>&1; then
    echo ".SS \\-\\-train"
    echo ".nf"
    "$BIN" --train --help | verbatim
    echo ".fi"
fi

cat <<'DIST'
.SH TRAINING ON SEVERAL PROCESSES
The one binary trains data\-parallel when it is started as the ranks of an MPI
job (Open MPI), on one machine or on several:
.PP
.nf
mpirun \-np 2 \-x OMP_NUM_THREADS=1 sfnet\-explore \-\-train ... RUN.db
srun \-\-mpi=pmix \-\-kill\-on\-bad\-exit=1 sfnet\-explore \-\-train ... RUN.db
sbatch share/slurm/train.sbatch \-\-catalog galaxies.csv \-\-images images RUN.db
.fi
.PP
Started alone (no mpirun, no srun) it trains as one process and never starts MPI.
In a job of N ranks:
.IP \(bu 2
\fB\-\-batch\fR is the global batch: every rank takes batch/N images of each
batch, so the batch must be a multiple of N (the command says so otherwise).
Epochs, steps, the learning\-rate schedule (it counts global steps), the shuffles
and the flips are those of one process with the same options.
.IP \(bu 2
Each rank runs forward and backward on its own engine (\fB\-\-engine\fR,
\fB\-\-precision\fR) with \fBOMP_NUM_THREADS\fR threads. The ranks average their
gradients (MPI_Allreduce over the flat gradient array) and every rank takes the
same optimizer step, so all keep the same weights (compared after every epoch).
The averaged gradient is the mean of the ranks' gradients, each of the RMSE of
its own images, as in PyTorch's DistributedDataParallel.
.IP \(bu 2
BatchNorm normalises each rank's images with that rank's own batch statistics,
as DistributedDataParallel does by default (not SyncBatchNorm): with few images
per rank the statistics are noisier than one process's over the whole batch.
The running statistics are averaged over the ranks before every validation and
so before the model is stored.
.IP \(bu 2
Every rank reads the catalogue and the images itself. Rank 0 opens them first
(building the image cache) and the others then map the cache it built, when
they see the same filesystem (\fB\-\-cache\fR \fIFILE\fR on a disk of each machine
instead: every machine then builds its own). A rank that finds other galaxies
than rank 0 (an image missing or unreadable there) stops the job, naming the
file.
.IP \(bu 2
Rank 0 alone prints progress, writes the checkpoint and RUN.db (both where rank 0
runs: on several machines, a shared filesystem). Validation is split over the
ranks. \fB\-\-resume\fR continues a checkpoint on any number of ranks, or in one
process.
.IP \(bu 2
When a rank dies (killed, out of memory, a crash), mpirun, or srun with
\fB\-\-kill\-on\-bad\-exit=1\fR, ends every rank within seconds; a rank that waits
longer than \fBSFNET_MPI_TIMEOUT\fR seconds for the others in the training loop
ends the job itself. Ctrl\-C on mpirun ends the job the same way. RUN.db is then
unchanged and the checkpoint of the last epoch resumes. To stop after the current
step with a checkpoint there, send SIGUSR1 to mpirun (\fBkill \-USR1\fR; mpirun
passes it to every rank), or Ctrl\-C (SIGINT) to one rank; in a Slurm job
\fBscancel \-\-signal=USR1\fR (and \fB#SBATCH \-\-signal=USR1@300\fR asks Slurm
for it five minutes before the time limit). SIGTERM, as from a plain scancel,
ends a rank at once.
.IP \(bu 2
Give every rank cores of its own: N ranks of C threads need N x C cores per
machine. With mpirun pass \fB\-x OMP_NUM_THREADS=\fR\fIC\fR; in Slurm ask
\fB\-\-cpus\-per\-task=\fR\fIC\fR and set OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK.
.IP \(bu 2
Debian 12's Slurm and Open MPI form the job with \fBsrun \-\-mpi=pmix\fR (checked
on a single\-node Slurm). srun without an MPI plugin (Slurm's default
MpiDefault=none) or with \fB\-\-mpi=pmi2\fR cannot wire Open MPI's ranks
together: the command then says to use \fB\-\-mpi=pmix\fR, or mpirun inside the
allocation.
DIST

cat <<'TAIL'
.SH INPUTS AND OUTPUTS
.TP
.B Output files
an output path (\-o of bpt, predict and export, the OUT.npy and \-\-fits
OUT.fits of export\-activations, predict's \-o OUT.fits, sweep's \-\-figure,
synth's \-\-preview, the figures of report) is written the way its kind asks. A regular file, or a new one, is
written beside itself under a temporary name and renamed over the old one
when complete, keeping its permissions: a failure or Ctrl\-C leaves the old
file. A symbolic link is followed to its target, which is replaced; the link
stays. \fB\-\fR is standard output; a FIFO or a character device (a pipe made
with mkfifo, /dev/null, a terminal) and /dev/stdout or /dev/fd/N are written
through as a stream, never replaced (a FITS table is then built in memory
first, as cfitsio goes back to finish its header). A directory, a socket or a
block device is refused before any work.
.TP
.B Catalogues
are read only from regular files (or links to them), CSV and FITS alike: a
directory, a FIFO or a device such as /dev/zero is refused at once, saying what
it is, and a file with
NUL bytes (an image or a FITS file given by mistake) from its first 64 KiB. The
target presets keep only rows whose targets are finite as 32\-bit floats
(oh_p50 = 1e300 is cut), and bpt_lines only fluxes above 0 with errors above 0
(a negative flux over a negative error passes S/N > 3); inspect counts the rows
each cut removes. A training loss that is not finite says whether the batch
held a bad target (naming the galaxy) or the training diverged (lower \-\-lr).
.TP
.B Images
JPEG (grey, YCbCr, CMYK and YCCK, converted to RGB) and PNG (grey, palette,
alpha, 16\-bit, interlaced) cutouts of at most 4096 x 4096 pixels: a larger
one (a 200 KB PNG can claim 8000 x 8000, 192 MB decoded) is refused from its
header, naming the file and its size; so is a progressive JPEG of more than
500 scans. A galaxy whose image is refused is skipped and counted as corrupt.
.TP
.B Run databases
are checked when opened: the tables, columns and indexes of the file's
schema version must be there (a damaged or hand\-edited file is refused
before hours of training are spent on it), and a file of up to 64 MiB opened
for writing passes SQLite's quick_check. A run name (\-\-name) has at most
15 letters, digits, '_' or '\-' and does not start with a digit; a longer one is
refused, never cut. \-\-train refuses a leftover checkpoint (or none to
\-\-resume) before reading anything, and a database it or predict \-\-into
created is removed again when the command fails before storing its run.
.TP
.B Text on the terminal
labels, notes, objIDs, column and file names come from files and users:
control characters in them (an escape sequence that would set the window's
title or clear the screen, a newline in an objID) are shown escaped (\ex1b,
\en, \eu009b), never sent, in tables, messages and every text output. JSON keeps
them as JSON escapes; CSV keeps them as they are, except on a terminal.
.SH ENVIRONMENT
.TP
.B SFNET_GRAPHICS
thumbnail mode when \-\-graphics is auto (sixel, kitty, symbols, none).
.TP
.B SFNET_CELL_SIZE
cell size in pixels, \fIWxH\fR, when \-\-cell\-size is not given.
.TP
.B NO_COLOR
when set and not empty, the explorer draws without colour (\-\-color always overrides).
.TP
.B TMUX
inside tmux the explorer uses symbol thumbnails unless told otherwise.
.TP
.B SFNET_SHARE
the directory holding the schema and other shared files.
.TP
.B SFNET_QUIET
set to 1 to hide progress bars.
.TP
.B SFNET_BUSY_TIMEOUT_MS
milliseconds a command waits for another one writing the same run database
(default 5000; \-\-train, predict \-\-into and merge wait 10 minutes when it is not set).
.TP
.B SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_MAX
what \fBpredict \-\-shard slurm\fR takes its slice from (Slurm sets them in each task
of a job array).
.TP
.B SFNET_EXPLORE, SFNET_SHARD
the program and, for a rerun task, the slice (\fII/N\fR) of share/slurm/*.sbatch.
.TP
.B OPENBLAS_CORETYPE
the OpenBLAS kernels of the reference engine (\-\-engine reference). OpenBLAS
0.3.21 falls back to its slowest (Prescott) kernels on processors it does not
know; on such an AVX\-512 processor OPENBLAS_CORETYPE=SkylakeX made the reference
engine about three times faster (make bench shows both). The oneDNN engine, the
default, does not use it.
.TP
.B OMP_NUM_THREADS
the threads of the network's engines (default: the CPUs the process may use, its
affinity mask capped by a cgroup CPU quota, or SLURM_CPUS_PER_TASK inside a Slurm
step).
.TP
.B OMP_WAIT_POLICY
how OpenMP's threads wait for work. Unset, \-\-train and predict set it to
\fBpassive\fR (the threads sleep instead of spinning; the program starts itself
again once to apply it): on a machine where another process takes a core,
spinning threads hold cores the working thread needs (make bench's loaded table).
Set it to \fBactive\fR to keep libgomp's spinning.
.TP
.B SFNET_MPI_TIMEOUT
seconds a rank of an MPI job waits for the others inside one step of training
before it decides that one of them died or hangs and stops the whole job
(default 300; 0 waits for ever).
.SH FILES
.TP
.I RUN.db
the run database (SQLite): runs, galaxies with their thumbnails and catalogue
values, every galaxy's top-k activations, predictions, feature statistics,
labels and marks, per-run summaries (what the explorer's pages and the
commands need from every galaxy of a run: co-activations, catalogue
correlations, quantile samples, plot points, few-feature RMSEs), each run's
packed sparse codes and the statistics of every two runs that share galaxies
(counterparts, compare, similar galaxies), computed once when a run is stored.
Its schema is \fIshare/schema.sql\fR (version 1) and the migrations of later
versions (version 2 adds the marks, version 3 the summaries, version 4 the codes
and pair statistics). An older file is upgraded when a command writes to it or
when the explorer opens it (2 to 3 to 4 in order; every run's summaries, codes
and pair statistics are computed then, with a progress bar, in one transaction:
an interruption leaves the file as it was); otherwise it is read as it is, and
what it lacks is computed in memory when first needed (each time: the file
cannot keep it).
.TP
.I galaxies.csv, images/<objID>.jpg
a catalogue with an objID column and its image cutouts (JPEG or PNG).
.TP
.I share/slurm/predict-array.sbatch, share/slurm/merge.sbatch
a survey on a Slurm cluster (installed under share/sfnet\-explore/slurm).
predict\-array.sbatch is a job array: task \fIID\fR runs
\fBpredict \-\-shard slurm\fR over its slice of the catalogue into
\fISHARD_DIR\fR/shard\-\fIID\fR.db; merge.sbatch, submitted with
\fB\-\-dependency=afterok:\fIJOBID\fR, joins every shard\-*.db of the folder into one
run with \fBmerge\fR. Both take the program from \fBSFNET_EXPLORE\fR (default:
sfnet\-explore on the PATH); a task reruns alone with
\fBsbatch \-\-array=\fIID\fB \-\-export=ALL,SFNET_SHARD=\fIID\fB/\fIN\fR.
.IP
.nf
jid=$(sbatch \-\-parsable \-\-array=0\-15 share/slurm/predict\-array.sbatch shards \\
      \-\-from\-run run.db:Z \-\-catalog survey.csv \-\-images cutouts)
sbatch \-\-dependency=afterok:$jid share/slurm/merge.sbatch survey.db shards
.fi
.IP
Each shard looks for every row's image (a file check per row, to draw the whole
catalogue's split) but reads, runs and stores only its own slice; predict reads
the catalogue as a stream, so its memory does not grow with the catalogue.
.SH NOTES
.SS Training recipe
\fB\-\-train\fR follows the paper's recipe (fastai's \fBfit_one_cycle\fR with the
ranger optimizer): RAdam (betas 0.95/0.99, eps 1e\-6) inside Lookahead (k 6,
alpha 0.5), decoupled weight decay 0.01 on conv and linear weights only, fastai's
one\-cycle schedule (25% cosine warm\-up from lr/25 to \-\-lr, cosine down to
lr/1e5, momentum 0.95\-0.85\-0.95), per\-channel normalisation from the training
split, shuffled batches with the last incomplete one dropped, and torchvision's
initialisation. \fBbench/recipe_compare\fR (\fBmake bench\-recipe\fR) trains it
side by side with the same recipe written in plain PyTorch
(\fBbench/recipe_torch.py\fR), seed for seed, on the same split and the same
pixels; \fB\-\-help\fR lists each point below with what each side does.
These are the points where the two could differ, and what was kept or changed:
.TP
.B targets (changed)
the network used to learn the catalogue's units (metallicity near 8.9 dex, sd
0.18 dex) with the head's bias started at their mean; it now learns each target
minus its training mean over the training sd (one sd pooled over the outputs, so
the loss stays the paper's RMSE up to a constant), and the head is folded back
into target units when training ends: the stored weights, predictions and
equations are in target units. \fB\-\-targets raw\fR restores the old way; raw
targets with nn.Linear's bias (the paper's code) barely move from the initial
bias in a short run.
.TP
.B head bias (kept)
started at the mean of what is learned (0 with standardised targets) rather than
nn.Linear's uniform draw; \fB\-\-head\-bias init\fR gives nn.Linear's.
.TP
.B flips (kept)
each training image gets one of the 8 dihedral transforms, drawn per image (not
per batch); fastai's Dihedral(p=0.5) leaves half the images as they are.
\fB\-\-flips\fR hv, batch or none for the others.
.TP
.B initialisation (kept)
torchvision's scheme (He normal fan\-out convolutions, BatchNorm 1 and 0,
nn.Linear's uniform head) drawn from our own random numbers, so a seed does not
give PyTorch's weights (recipe_compare \-\-same\-init hands ours to PyTorch).
.TP
.B BatchNorm (same)
momentum 0.1, eps 1e\-5, unbiased running variance.
.TP
.B optimizer (kept)
fastai's RAdam step (eps added to the square root of the debiased second
moment; torch.optim.RAdam, which the PyTorch side uses, adds it before the
debiasing); Lookahead's slow weights are taken before the first step, synchronised
every 6 steps counted over the whole run, and the fast weights are evaluated.
.TP
.B schedule (same)
the position in the one\-cycle is step/total before each step, as fastai's;
PyTorch's OneCycleLR with the same numbers.
.TP
.B split and pixels (same)
the 80/20 split of \-\-split\-seed, and the per\-channel mean and sd of the
training split (fastai takes them from one batch).
.PP
Measured on the 400 shared SDSS galaxies (320 training, 80 validation; width
16, resize 80, crop 72, k 4, 20 epochs, batch 64, one\-cycle at 0.1; both at one
thread on a shared machine), the validation RMSE of oh_p50 over seeds 0\-9 was
0.1061 +\- 0.0032 (sd; s.e. 0.0010) for \fB\-\-train\fR and 0.1049 +\- 0.0047
(s.e. 0.0015) for PyTorch (predicting the mean: 0.2223); with the former raw
targets, seeds 0\-4: 0.1070 +\- 0.0038. On both sides the validation RMSE of
epochs 2\-8 jumps to 1\-70 dex while the learning rate is at its peak, though
the training loss does not (evaluation uses the BatchNorm running statistics,
which trail the weights), and settles in the last third of the schedule; the curves of \fBrecipe_compare\fR show it on a log axis.
.SH EXAMPLES
.nf
make demo                                  # synthetic survey, SL and Z runs, explorer
sfnet-explore demo/demo.db                 # browse
sfnet-explore demo/demo.db --feature "SL 17"
sfnet-explore export demo/demo.db "SL 17" \-o sl17.png \-\-bpt
sfnet-explore equation demo/demo.db Z
sfnet-explore features demo/demo.db "Z 3" \-\-similar \-\-in SL
sfnet-explore compare demo/demo.db CNN Z    # ridge R^2 of Z's features from a dense CNN
sfnet-explore export demo/demo.db \-\-compare SL Z \-o sl_z.png
sfnet-explore galaxy demo/demo.db OBJID \-\-similar
.fi
.SH SEE ALSO
Wu (2025), ApJ 980, 183, arXiv:2501.00089: Sparse Feature Networks for
interpretable galaxy property prediction.
TAIL
