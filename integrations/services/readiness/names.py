"""A small list of common given names and surnames, for spotting names in identifiers.

Lower case. Names that are also everyday English or protocol words (will, grant, page,
brown, key, max) are left out on purpose: they would flag ordinary claims as PII.
"""

from __future__ import annotations

GIVEN_NAMES = frozenset(
    """
    aaron abigail adam adrian aisha alan albert alejandro alex alexander alexandra alice
    alicia alison allison amanda amber amelia amir amy ana andrea andrew angela anita anna
    anne annie anthony antonio arjun arthur ashley audrey austin barbara beatrice benjamin
    bernard beth betty beverly bob bobby brandon brenda brian brittany bruce bryan caleb
    camila carl carla carlos carmen carol caroline catherine charles charlie charlotte chloe
    christina christine christopher cindy claire clara connor craig cynthia daisy daniel
    daniela danielle david deborah debra denise dennis diana diane diego dmitri donald
    donna dorothy dylan edward elena elijah elizabeth ella ellen emily emma eric erica
    erin ethan eugene evelyn fatima fernando fiona florence francesca francisco gabriel
    gabriela gary george gerald giovanni gloria gregory hannah harold harry heather helen
    henry hiroshi ian irene isaac isabel isabella ivan jacob jacqueline james jamie janet
    janice jason javier jean jeffrey jennifer jeremy jessica joan joanna joel john jonathan
    jordan jorge jose joseph joshua joyce juan judith julia julie justin karen katherine
    kathleen kathryn keith kelly kenneth kevin kimberly kyle laura lauren leah leonardo
    liam linda lisa logan lorenzo louis lucas lucia luis luke madison margaret maria
    marie marilyn martha martin mary matthew maya megan melissa mia michael michelle
    miguel mohammed muhammad nancy natalie nathan nicholas nicole noah nora olivia oscar
    pamela patricia patrick paul paula peter philip priya rachel rahul ralph raymond
    rebecca richard robert roberto rachael roger ronald ruth ryan samantha samuel sandra
    sara sarah scott sean sebastian sergio sharon shirley sofia sophia stephanie stephen
    steven susan sylvia tamara teresa theresa thomas timothy tyler valentina valerie
    vanessa victor victoria vincent virginia walter wayne wei william xavier yuki zachary
    zoe
    """.split()
)

SURNAMES = frozenset(
    """
    adams alexander allen alvarez anderson bailey baker barnes becker bennett brooks
    bryant butler campbell carter castillo castro chavez chen clark coleman collins cooper
    cruz davis diaz dubois edwards evans fernandez fischer flores foster garcia gomez
    gonzalez gonzales graham griffin gutierrez hamilton harris hayes henderson
    hernandez herrera hughes jackson jenkins jimenez johnson jones kelly kennedy kim
    kowalski kumar lee lewis lopez martin martinez mendoza meyer miller mitchell moore
    morales morgan morris murphy murray myers nelson nguyen ortiz parker patel perez
    perry peterson phillips powell ramirez ramos reed reyes richardson rivera roberts
    robinson rodriguez rogers romero ross russell sanchez sanders schmidt schneider
    scott shah simmons singh smith sullivan taylor thomas thompson torres turner walker
    wallace washington watson weber williams wilson wright yamamoto zhang
    """.split()
)

NAMES = GIVEN_NAMES | SURNAMES
